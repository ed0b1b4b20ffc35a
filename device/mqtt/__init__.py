"""MQTT link for cameras: one paho client per camera, many cameras per selector loop."""

from device.mqtt.link import MqttLink, Publication
from device.mqtt.loop import SelectorLoop

__all__ = ["MqttLink", "Publication", "SelectorLoop"]
