"""`python -m bench`: stream one long reply through the websocket and print figures."""

from bench.stream_bench import main

raise SystemExit(main())
