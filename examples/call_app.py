#!/usr/bin/env python3
"""Embedding p2pcall in a Python application: watch a room as one grid
picture, follow who joins and leaves from the bus, and print each peer's
statistics once a second.

    GST_PLUGIN_PATH=build/gst python3 examples/call_app.py --room myroom

Lines on stdout: "joined ROOM as ID", "peer-joined ID", "peer-left ID",
"stats ID state=STATE bitrate=BPS rtt=SECONDS". Ctrl-C leaves the room.
"""
import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GLib", "2.0")
from gi.repository import GLib, Gst  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", default="ws://127.0.0.1:8080/ws")
    parser.add_argument("--room", required=True)
    parser.add_argument("--name", default="Python example")
    args = parser.parse_args()

    Gst.init(None)
    call = Gst.ElementFactory.make("p2pcallsrc", "call")
    if call is None:
        sys.exit("no p2pcallsrc: is the p2pcall plugin in GST_PLUGIN_PATH?")
    call.set_property("server", args.server)
    call.set_property("room", args.room)
    call.set_property("peer-name", args.name)
    call.set_property("layout", "grid")

    # The whole call as one picture and one sound; a real application would
    # show and play them instead of discarding them.
    pipeline = Gst.Pipeline.new("call-app")
    video, audio = Gst.ElementFactory.make("fakesink"), Gst.ElementFactory.make("fakesink")
    for element in (call, video, audio):
        pipeline.add(element)
    call.link_pads("video", video, "sink")
    call.link_pads("audio", audio, "sink")

    loop = GLib.MainLoop()
    exit_code = 0

    def on_message(_bus, message):
        nonlocal exit_code
        if message.type == Gst.MessageType.ERROR:
            error, _debug = message.parse_error()
            print(f"error from {message.src.get_name()}: {error.message}", file=sys.stderr)
            exit_code = 1
            loop.quit()
        elif message.type == Gst.MessageType.ELEMENT:
            s = message.get_structure()
            if s.get_name() == "p2pcall-joined":
                print(f"joined {s.get_string('room-id')} as {s.get_string('peer-id')}", flush=True)
            elif s.get_name() == "p2pcall-peer-joined":
                print(f"peer-joined {s.get_string('peer-id')}", flush=True)
            elif s.get_name() == "p2pcall-peer-left":
                print(f"peer-left {s.get_string('peer-id')}", flush=True)
        return True

    def print_stats():
        stats = call.get_property("stats")
        for i in range(stats.n_fields()):
            peer = stats.get_value(stats.nth_field_name(i))
            print(f"stats {peer.get_string('peer-id')} state={peer.get_string('state')} "
                  f"bitrate={peer.get_uint64('bitrate')[1]} "
                  f"rtt={peer.get_double('round-trip-time')[1]:.3f}", flush=True)
        return True

    bus = pipeline.get_bus()
    bus.add_signal_watch()
    bus.connect("message", on_message)
    GLib.timeout_add_seconds(1, print_stats)
    for signum in (signal.SIGINT, signal.SIGTERM):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)

    if pipeline.set_state(Gst.State.PLAYING) == Gst.StateChangeReturn.FAILURE:
        print("could not start the pipeline", file=sys.stderr)
        return 1
    loop.run()
    # NULL leaves the room: the others see us go at once.
    pipeline.set_state(Gst.State.NULL)
    bus.remove_signal_watch()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
