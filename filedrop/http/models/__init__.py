"""The REST API's JSON bodies and query strings as typed models: each field list
written once.

Requests are parsed into :mod:`.requests` models and hand the services typed
values; responses are :mod:`.responses` models built from the records the
services return; :mod:`.base` publishes both as the OpenAPI document's schemas,
under their class names.
"""
