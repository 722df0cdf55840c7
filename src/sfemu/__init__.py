"""sfemu: a Salesforce API emulator."""
