"""The server starts through ``modelreuse serve`` on both databases and answers in JSON."""


def test_health_reports_the_dock(live_server):
    with live_server.client() as client:
        body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["learnwares"] == 0
    assert body["database"] == ("sqlite" if live_server.db_url is None else "postgresql")


def test_unknown_path_is_a_json_404(sqlite_server):
    with sqlite_server.client() as client:
        response = client.get("/no/such/path")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "HTTPError"

