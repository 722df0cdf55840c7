"""Calendar adapters: reading a rep's calendar over CalDAV (`caldav_client`: checking an
account, and fetching only what changed since the last look), turning its iCalendar objects
into meetings (`ical`: occurrences in UTC, recurring series expanded over a window), and a
local CalDAV server (`local_server`: Radicale) for the demo and the tests.

The modules import nothing of each other's weight: reading iCalendar text needs neither
httpx nor Radicale, and the client needs no server.
"""
