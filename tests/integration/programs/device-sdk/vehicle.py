"""A vehicle written on Microsoft's Python device SDK (azure-iot-device), with nothing local in it: told
only the DPS endpoint, the id scope, its certificate and the server CA to trust, as any SDK sample is.

Run under the SDK's own environment (`make device-sdk`):
  vehicle.py register DPS_HOST ID_SCOPE REGISTRATION_ID CERT KEY CA  -> prints DPS's answer as JSON
  vehicle.py send HUB GATEWAY DEVICE_ID CERT KEY CA COUNT             -> sends COUNT messages, prints JSON
"""

import json
import sys
import time
from pathlib import Path

from azure.iot.device import X509, IoTHubDeviceClient, Message, ProvisioningDeviceClient


def register(host: str, scope: str, registration_id: str, cert: str, key: str, ca: str) -> dict[str, str]:
    client = ProvisioningDeviceClient.create_from_x509_certificate(
        provisioning_host=host,
        registration_id=registration_id,
        id_scope=scope,
        x509=X509(cert_file=cert, key_file=key),
        server_verification_cert=Path(ca).read_text(),
    )
    result = client.register()
    state = result.registration_state
    return {"status": result.status, "assignedHub": state.assigned_hub, "deviceId": state.device_id}


def send(hub: str, gateway: str, device_id: str, cert: str, key: str, ca: str, count: int) -> dict[str, int]:
    client = IoTHubDeviceClient.create_from_x509_certificate(
        x509=X509(cert_file=cert, key_file=key),
        hostname=hub,
        device_id=device_id,
        server_verification_cert=Path(ca).read_text(),
        gateway_hostname=gateway,
    )
    client.connect()
    for seq in range(1, count + 1):
        message = Message(json.dumps({"vehicleId": device_id, "seq": seq, "ts": time.time(), "speedKmh": 50}))
        message.content_type = "application/json"
        message.content_encoding = "utf-8"
        client.send_message(message)
    client.shutdown()
    return {"sent": count}


if __name__ == "__main__":
    step, *rest = sys.argv[1:]
    if step == "register":
        host, scope, registration_id, cert, key, ca = rest
        print(json.dumps(register(host, scope, registration_id, cert, key, ca)))
    else:
        hub, gateway, device_id, cert, key, ca, count = rest
        print(json.dumps(send(hub, gateway, device_id, cert, key, ca, int(count))))
