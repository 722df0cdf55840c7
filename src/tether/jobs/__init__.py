"""Background work: a queue interface, and the embedded runner (a lease table + asyncio)."""
