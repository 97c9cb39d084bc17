"""What the tests (and the benchmarks) share: the server process, the lead factory, the
in-process command line, reads of the server's database past its API. Nothing here is
part of the product."""
