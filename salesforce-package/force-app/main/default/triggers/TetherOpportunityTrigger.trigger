// Tether real-time sync: hands every committed change of Opportunity to TetherTriggerHandler,
// which posts it to the Tether webhook (docs/realtime-webhook.md). Keep this a one-liner:
// all logic, and the decision whether to send anything at all, lives in the handler.
trigger TetherOpportunityTrigger on Opportunity (after insert, after update, after delete, after undelete) {
    TetherTriggerHandler.handle('Opportunity');
}
