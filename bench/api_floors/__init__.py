"""Handlers that bound the api's cold start from below (`bench.cold_start`): the least a Powertools REST API
that serves one stored GET imports and does, without and with Powertools' request and response validation."""
