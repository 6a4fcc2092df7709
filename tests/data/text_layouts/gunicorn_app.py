def app(environ, start_response):
    if environ["PATH_INFO"] == "/boom":
        raise KeyError("customer_id")
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]
