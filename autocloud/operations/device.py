"""A vehicle's side of the Azure device path, the same against the local platform and Azure: register
with the region's DPS over MQTT, then connect to the hub DPS assigned, both over TLS with the vehicle's
X.509 certificate from its region's fleet CA.

The DPS exchange is the documented one ("Communicate with DPS using the MQTT protocol",
https://learn.microsoft.com/azure/iot-dps/iot-dps-mqtt-support): client id = registration id, user name
``{idScope}/registrations/{registration_id}/api-version=2019-03-31``, subscribe to
``$dps/registrations/res/#``, publish ``$dps/registrations/PUT/iotdps-register/?$rid={request_id}``, and
while the answer is ``202``, wait ``retry-after`` seconds and publish
``$dps/registrations/GET/iotdps-get-operationstatus/?$rid={request_id}&operationId={operationId}``; a
``200`` answer carries ``registrationState`` with ``assignedHub`` and ``deviceId``.

At the hub, "use the device ID as the client ID ... and ``{iotHub-hostname}/{device-id}/?api-version=
2021-04-12`` as the Username", publishing to ``devices/{device-id}/messages/events/``
(https://learn.microsoft.com/azure/iot/iot-mqtt-connect-to-iot-hub).
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any

from autocloud.runtime.fleet_pki import VehicleCert
from platform_model.errors import AutocloudError, excerpt

DPS_API_VERSION = "2019-03-31"
HUB_API_VERSION = "2021-04-12"
DPS_RESPONSES = "$dps/registrations/res/"
REGISTER_TOPIC = "$dps/registrations/PUT/iotdps-register/"
STATUS_TOPIC = "$dps/registrations/GET/iotdps-get-operationstatus/"
ANSWER_TIMEOUT_S = 30.0
MAX_POLLS = 30
KEEPALIVE_S = 30


class RegistrationRefused(AutocloudError):
    """The vehicle did not get a hub: ``reason`` is the summary's line, the same for every vehicle it befell."""

    def __init__(self, reason: str, detail: str = "") -> None:
        self.reason = reason
        super().__init__(f"{reason}: {detail}" if detail else reason)


@dataclass(frozen=True)
class Endpoint:
    """Where a vehicle opens a TLS connection. ``address`` is what it dials (a tunnel's 127.0.0.1 locally);
    the server certificate is checked against the address, or, by the compiled generator (fleetsim),
    against ``server_name`` where one is given (a Service's DNS name when it dials the Service's address)."""

    address: str
    port: int
    server_name: str | None = None


@dataclass(frozen=True)
class Assignment:
    """DPS's answer: the hub to connect to and the device id there."""

    hub: str
    device_id: str
    seconds: float
    """From opening the connection to DPS to the ``assigned`` answer."""


def tls_context(credentials: VehicleCert, server_ca_pem: str | None = None) -> ssl.SSLContext:
    """TLS 1.2 or later, the vehicle's certificate chain as client certificate, the server verified against
    ``server_ca_pem`` (the local endpoints' CA) or, on Azure, the system's roots."""
    context = ssl.create_default_context(cadata=server_ca_pem) if server_ca_pem else ssl.create_default_context()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(credentials.cert_path), str(credentials.key_path))
    return context


def dps_username(id_scope: str, registration_id: str) -> str:
    return f"{id_scope}/registrations/{registration_id}/api-version={DPS_API_VERSION}"


def hub_username(hub: str, device_id: str) -> str:
    return f"{hub}/{device_id}/?api-version={HUB_API_VERSION}"


def new_client(client_id: str, username: str, context: ssl.SSLContext) -> Any:
    """A paho MQTT 3.1.1 client over TLS for one vehicle."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv311)
    client.username_pw_set(username)
    client.tls_set_context(context)
    return client


def open_connection(client: Any, endpoint: Endpoint, refused: str, timeout: float = ANSWER_TIMEOUT_S) -> None:
    """Connect ``client`` and wait for a successful CONNACK; else RegistrationRefused with ``refused`` as
    the reason and what the TLS layer or the server said as the detail."""
    outcome: queue.Queue[str] = queue.Queue()

    def on_connect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        outcome.put("" if not reason.is_failure else f"CONNACK {reason}")

    def on_disconnect(_c: Any, _u: Any, _flags: Any, reason: Any, _p: Any) -> None:
        outcome.put(f"connection closed ({reason})")

    client.on_connect = on_connect
    client.on_disconnect = on_disconnect
    try:
        client.connect(endpoint.address, endpoint.port, keepalive=KEEPALIVE_S)
    except (ssl.SSLError, OSError) as exc:
        raise RegistrationRefused(refused, excerpt(str(exc), 160)) from None
    client.loop_start()
    try:
        said = outcome.get(timeout=timeout)
    except queue.Empty:
        said = f"no CONNACK within {timeout:.0f}s"
    if said:
        client.loop_stop()
        raise RegistrationRefused(refused, said)


def _status(topic: str) -> tuple[int, dict[str, str]]:
    """``$dps/registrations/res/{status}/?$rid=..&retry-after=..`` -> (status, query parameters)."""
    path, _, query = topic.removeprefix(DPS_RESPONSES).partition("?")
    params = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
    return int(path.strip("/")), params


def register(
    registration_id: str,
    endpoint: Endpoint,
    id_scope: str,
    context: ssl.SSLContext,
    *,
    sleep: Any = time.sleep,
) -> Assignment:
    """Run DPS's registration exchange for one vehicle; RegistrationRefused when DPS refuses it."""
    started = time.monotonic()
    client = new_client(registration_id, dps_username(id_scope, registration_id), context)
    answers: queue.Queue[tuple[str, bytes]] = queue.Queue()
    subscribed = threading.Event()
    client.on_message = lambda _c, _u, message: answers.put((message.topic, message.payload))
    client.on_subscribe = lambda *_args: subscribed.set()
    open_connection(client, endpoint, "DPS refused the vehicle's connection (certificate, id scope)")
    try:
        client.subscribe(DPS_RESPONSES + "#", qos=1)
        if not subscribed.wait(ANSWER_TIMEOUT_S):
            raise RegistrationRefused("DPS did not answer", "no SUBACK")
        request = 1
        topic = f"{REGISTER_TOPIC}?$rid={request}"
        payload = json.dumps({"registrationId": registration_id})
        for _ in range(MAX_POLLS):
            client.publish(topic, payload, qos=1)
            try:
                answer_topic, body = answers.get(timeout=ANSWER_TIMEOUT_S)
            except queue.Empty:
                raise RegistrationRefused("DPS did not answer", f"nothing on {DPS_RESPONSES}#") from None
            status, params = _status(answer_topic)
            answer = json.loads(body or b"{}")
            if status == 200:
                state = answer.get("registrationState") or {}
                if answer.get("status") != "assigned" or not state.get("assignedHub"):
                    raise RegistrationRefused("DPS did not assign a hub", excerpt(str(answer), 160))
                return Assignment(state["assignedHub"], state["deviceId"], time.monotonic() - started)
            if status != 202:
                raise RegistrationRefused(f"DPS answered {status}", excerpt(str(answer.get("errorMessage", "")), 160))
            sleep(float(params.get("retry-after", "1")))
            request += 1
            topic = f"{STATUS_TOPIC}?$rid={request}&operationId={answer['operationId']}"
            payload = ""
        raise RegistrationRefused("DPS did not finish the registration", f"still assigning after {MAX_POLLS} polls")
    finally:
        client.disconnect()
        client.loop_stop()
