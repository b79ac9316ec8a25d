-- GET {{PATH}} with a fixed Bearer token: the cheapest possible wrk request loop.
wrk.method = "GET"
wrk.path = "{{PATH}}"
wrk.headers["Authorization"] = "Bearer {{TOKEN}}"
