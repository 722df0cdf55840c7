"""HTTP surfaces of the emulator: OAuth, SOAP login, REST, composite, Bulk 2.0, admin."""
