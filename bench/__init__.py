"""bench: the `safenet` command line, benchmarks and reports (layer 6).
May import every layer below."""
