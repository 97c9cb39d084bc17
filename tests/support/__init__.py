"""What the tests (and the benchmarks) share: the server process, the lead factory, the
in-process command line. Nothing here is part of the product."""
