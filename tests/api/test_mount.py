"""The API in the composed web app (huifang.web.compose): mounted without a console secret, with the security
headers every route gets, and its own body limit above web.max_content_length."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from huifang.app import App
from huifang.web import build_services, compose
from kit.clock import FrozenClock
from kit.settings import DatabaseSettings, Settings, SpeechSettings, TwilioSettings, WebSettings
from storage.models import Policy
from tests.api.conftest import ApiWorld, record


def test_the_composed_app_serves_the_api_with_its_own_body_limit(db_url: str, tmp_path: Path, clock: FrozenClock,
                                                                  world: ApiWorld) -> None:
    settings = Settings(database=DatabaseSettings(url=db_url),
                        speech=SpeechSettings(prompt_cache_dir=str(tmp_path / "p")),
                        web=WebSettings(max_content_length=4096), twilio=TwilioSettings(auth_token="t"))
    settings = replace(settings, api=replace(settings.api, max_body_bytes=1 << 20))
    app = App(settings, clock=clock)
    web = compose(app, build_services(app), secret=None)
    client = web.test_client()
    document = client.get("/api/v1/openapi.json")
    assert document.status_code == 200
    assert document.headers["X-Content-Type-Options"] == "nosniff"
    assert document.headers["Cache-Control"] == "no-store"
    body = json.dumps({"policies": [record(policy_no=f"M{i}") for i in range(20)]}).encode()
    assert len(body) > 4096
    response = client.post("/api/v1/policies", data=body, content_type="application/json",
                           headers={"Authorization": f"Bearer {world.key()}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["imported"] == 20
    assert world.count(Policy) == 20
    app.close()
