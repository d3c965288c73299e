"""One reply's life: `state` is what it received and how it ended (pure), `runner`
streams it from MiniMax, relays it to the pages and saves it (I/O)."""
