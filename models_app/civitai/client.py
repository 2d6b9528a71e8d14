"""Civitai REST client: catalogue reads and authenticated download sessions.

Every failure leaves as an `APIError` the API can answer directly: 404 `not_found` for unknown
ids, 502 `catalogue_unavailable` for everything else the catalogue does wrong.
"""

import requests
from django.conf import settings

from core.errors import APIError

CATALOGUE_TIMEOUT = (5, 20)  # connect, read (seconds)
TOKEN_NEEDED = "Civitai requires an API token for this request: set SDHOST_CIVITAI_TOKEN"


def catalogue_unavailable(detail, offline=False):
    """502 `catalogue_unavailable`; `offline`: Civitai could not be reached, timed out or answered 5xx (a by-hash
    sync records that and tries again later: models_app/civitai/sync.py)."""
    error = APIError(502, "catalogue_unavailable", detail)
    error.offline = offline
    return error


class CivitaiClient:
    """Reads the Civitai catalogue at settings.SDHOST["CIVITAI_BASE_URL"].

    The token (SDHOST_CIVITAI_TOKEN) is sent as `Authorization: Bearer`; requests drops that
    header when a redirect leaves the host, so signed download URLs never see it.
    """

    def __init__(self, base_url=None, token=None):
        self.base_url = (base_url or settings.SDHOST["CIVITAI_BASE_URL"]).rstrip("/")
        self.token = token if token is not None else settings.SDHOST["CIVITAI_TOKEN"]

    def session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = "SD-Host"
        if self.token:
            session.headers["Authorization"] = f"Bearer {self.token}"
        return session

    def get_model(self, model_id) -> dict:
        return self._get_json(f"/api/v1/models/{model_id}", f"Civitai model {model_id}")

    def get_version(self, version_id) -> dict:
        return self._get_json(f"/api/v1/model-versions/{version_id}", f"Civitai model version {version_id}")

    def get_by_hash(self, sha256) -> dict:
        """The model-version document of the file with this SHA256 (Civitai's by-hash lookup)."""
        return self._get_json(f"/api/v1/model-versions/by-hash/{sha256}", f"A file with SHA256 {sha256}")

    def model_page_url(self, model_id, version_id) -> str:
        return f"{self.base_url}/models/{model_id}?modelVersionId={version_id}"

    def fetch_bytes(self, url, limit, timeout=(5, 15)) -> bytes:
        """A small resource (a preview image), at most `limit` bytes; raises requests errors or ValueError."""
        with self.session() as session, session.get(url, stream=True, timeout=timeout) as response:
            response.raise_for_status()
            data = bytearray()
            for chunk in response.iter_content(64 * 1024):
                data += chunk
                if len(data) > limit:
                    raise ValueError(f"{url} is larger than {limit} bytes")
            return bytes(data)

    def _get_json(self, path, what) -> dict:
        url = self.base_url + path
        try:
            with self.session() as session:
                response = session.get(url, timeout=CATALOGUE_TIMEOUT, headers={"Accept": "application/json"})
        except requests.Timeout:
            raise catalogue_unavailable(f"Civitai did not answer in time ({url})", offline=True) from None
        except requests.RequestException as exc:
            raise catalogue_unavailable(f"Civitai is unreachable ({url}): {type(exc).__name__}", offline=True) from None
        if response.status_code == 404:
            raise APIError(404, "not_found", f"{what} not found on Civitai")
        if response.status_code in (401, 403):
            raise catalogue_unavailable(TOKEN_NEEDED)
        if response.status_code != 200:
            raise catalogue_unavailable(f"Civitai answered HTTP {response.status_code} for {what}",
                                        offline=response.status_code >= 500)
        try:
            body = response.json()
        except ValueError:
            raise catalogue_unavailable(f"Civitai sent invalid JSON for {what}") from None
        if not isinstance(body, dict):
            raise catalogue_unavailable(f"Civitai sent an unexpected document for {what}")
        return body
