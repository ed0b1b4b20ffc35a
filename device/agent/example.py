"""The commented ``camera.toml`` that ``ossmedia camera --example-config`` prints."""

from __future__ import annotations

__all__ = ["EXAMPLE_CONFIG"]

EXAMPLE_CONFIG = """\
# camera.toml: settings of `ossmedia camera`. Only device_id and secret are required;
# every other value below is the default unless marked otherwise. Relative paths are
# relative to this file.

device_id = "cam-0001"
secret = "<32-byte device secret, unpadded base64url, from `ossmedia devices add`>"
topic_prefix = "ossmedia"

[broker]
url = "mqtt://127.0.0.1:1883"        # mqtt://host:port or mqtts://host:port (TLS)
# ca_file = "/etc/ossmedia/ca.pem"   # TLS; system CAs when unset
# cert_file = "/etc/ossmedia/cam.crt"  # mutual TLS, with key_file
# key_file = "/etc/ossmedia/cam.key"
# username = "cam-0001"
# password = "..."                   # never logged
keepalive_s = 30
protocol = "3.1.1"                   # or "5"

[credentials]
duration_s = 900                     # the responder clamps it
refresh_at = 0.8                     # refresh at 80 % of the lifetime, +/- refresh_jitter
refusals_before_alert = 3            # unverifiable refusals in a row (wrong secret, unknown
                                     # id): error, credentials_refused alert, slow retries

[spool]
dir = "/var/lib/ossmedia/spool"      # persistent storage
max_bytes = 1073741824
policy = "drop_oldest"               # or "reject_new"; whole objects (HLS) are never dropped
chunk_bytes = 1048576
chunk_max_age_s = 2.0
# max_free_fraction = 0.8            # size the spool from its file system's free space
must_exist = false                   # true: refuse to start when dir is missing (SD card)

[upload]
rollover_s = 600                     # append output: a new object every 10 minutes
key_suffix = ".mp4"
outage_max_s = 5
status_interval_s = 30

[oss]
client = "oss2"                      # or "http": the device's stdlib client, same requests
                                     # and errors, without oss2's libraries (less memory)

[source]
kind = "directory"                   # file | stdin | directory | pattern
path = "/var/lib/ossmedia/segments"  # for file and directory
settle_s = 10.0                      # directory: the newest non-empty file is complete
                                     # once unchanged this long (earlier ones as soon as
                                     # a later file appears)
# With HLS output the source is H.264 Annex B without B-frames: a .h264 file (paced at
# output.frame_rate), stdin (an encoder's pipe), or the generated pattern; duration_s
# ends a pattern after that long.
# audio_path = "/var/lib/ossmedia/camera.aac"  # HLS from a file: AAC in ADTS beside it

[output]
format = "append"                    # "append": appendable objects; "hls": TS segments + m3u8
# The rest applies to format = "hls"; names lie under the granted prefix.
mode = "live"                        # "live": sliding window; "vod": every segment, ENDLIST
stream = "hls"
# session = "front-door"             # default: the start time, so restarts never overwrite
segment_name = "{stream}/{session}/{seq:06d}.ts"
playlist_name = "{stream}/{session}.m3u8"   # "{stream}/live.m3u8" for a fixed address
target_duration_s = 2.0              # segments end at the first key frame after this long
list_size = 6                        # segments in a live playlist
frame_rate = 25.0                    # pictures per second (timestamps come from it)
max_pending_segments = 16            # while the spool is full, then pictures are refused
encrypt = false                      # AES-128 segments; keys go to the console over MQTT
key_uri_template = "/api/keys/{device_id}/{key_id}"   # EXT-X-KEY URI (console)
# rotate_every_segments = 100        # a new key every N segments (default: one per recording)
# audio_sample_rate = 16000          # with source.audio_path: its AAC sample rate
"""
