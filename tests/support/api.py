"""The JSON API client of the tests and the check of JSON:API error documents."""

import json

from django.test import Client


class ApiClient(Client):
    """django.test.Client that sends JSON bodies and decodes JSON answers as `.json()`."""

    def _send(self, method, path, data=None, **kwargs):
        if data is not None and not isinstance(data, (bytes, str)):
            data = json.dumps(data)
        kwargs.setdefault("content_type", "application/json")
        return getattr(super(), method)(path, data, **kwargs)

    def post_json(self, path, data=None, **kwargs):
        return self._send("post", path, data, **kwargs)

    def put_json(self, path, data=None, **kwargs):
        return self._send("put", path, data, **kwargs)

    def delete_json(self, path, data=None, **kwargs):
        return self._send("delete", path, data, **kwargs)


def assert_error(response, status, code, *, parameter=None, pointer=None):
    """Check a JSON:API error document (D13) and return its first error."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"errors"}, body
    error = body["errors"][0]
    assert error["status"] == str(status)
    assert error["code"] == code, error
    assert error["title"] and error["detail"]
    if parameter is not None:
        assert error["source"] == {"parameter": parameter}, error
    if pointer is not None:
        assert error["source"] == {"pointer": pointer}, error
    return error
