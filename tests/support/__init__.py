"""Test support shared by the tests and the benchmarks: the fake Civitai server, library factories and seeds,
a live server, the JSON API client."""
