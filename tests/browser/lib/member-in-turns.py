#!/usr/bin/python3
"""One call member whose two parts start in turn, as an application may.

Usage: member-in-turns.py SERVER ROOM PEER_NAME

Starts a pipeline with a p2pcallsink (320x240 test picture) at once. A line
"receive" on stdin starts a second pipeline with a p2pcallsrc of the same
member; "stop-sending" stops the first, "send" starts it again. Prints
"received WxH on PAD" for the first video on each output pad of the
p2pcallsrc, and "error: ..." for errors. End of input or SIGINT stops
both pipelines and exits.
"""
import faulthandler
import signal
import sys

import gi

gi.require_version('Gst', '1.0')
from gi.repository import GLib, Gst  # noqa: E402


def say(text):
    print(text, flush=True)


def watch(pipeline, loop):
    bus = pipeline.get_bus()
    bus.add_signal_watch()

    def on_error(_bus, message):
        error, _debug = message.parse_error()
        say(f'error: {error.message}')
        loop.quit()
    bus.connect('message::error', on_error)


def main():
    server, room, name = sys.argv[1:4]
    Gst.init(None)
    loop = GLib.MainLoop()
    common = f'room={room} peer-name={name} server={server}'

    def start_sending():
        pipeline = Gst.parse_launch(
            'videotestsrc is-live=true ! video/x-raw,width=320,height=240,'
            f'framerate=15/1 ! p2pcallsink {common}')
        watch(pipeline, loop)
        pipeline.set_state(Gst.State.PLAYING)
        say('sending')
        return pipeline

    sending = start_sending()
    receiving = None

    def on_pad(_src, pad):
        sink = Gst.ElementFactory.make('fakesink')
        receiving.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad('sink'))

        def on_buffer(probe_pad, _info):
            caps = probe_pad.get_current_caps()
            s = caps.get_structure(0) if caps else None
            if s and s.get_name() == 'video/x-raw':
                size = f'{s.get_value("width")}x{s.get_value("height")}'
                GLib.idle_add(say, f'received {size} on {pad.get_name()}')
                return Gst.PadProbeReturn.REMOVE
            return Gst.PadProbeReturn.OK
        pad.add_probe(Gst.PadProbeType.BUFFER, on_buffer)

    def on_stdin(channel, _condition):
        nonlocal receiving, sending
        line = channel.readline().strip()
        if line == 'receive' and receiving is None:
            src = Gst.parse_launch(f'p2pcallsrc layout=separate {common}')
            receiving = Gst.Pipeline.new('receiving')
            receiving.add(src)
            src.connect('pad-added', on_pad)
            watch(receiving, loop)
            receiving.set_state(Gst.State.PLAYING)
            say('receiving')
        elif line == 'stop-sending' and sending is not None:
            sending.set_state(Gst.State.NULL)
            sending = None
            say('stopped sending')
        elif line == 'send' and sending is None:
            sending = start_sending()
        elif not line:
            loop.quit()
            return False
        return True

    GLib.io_add_watch(GLib.IOChannel.unix_new(sys.stdin.fileno()),
                      GLib.IO_IN | GLib.IO_HUP, on_stdin)
    # Python's own SIGINT handling would leave the loop with an exception
    # and the pipelines running, and the interpreter crashed on its way out.
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    loop.run()
    for pipeline in (receiving, sending):
        if pipeline is not None:
            pipeline.set_state(Gst.State.NULL)


if __name__ == '__main__':
    faulthandler.enable()   # a crash says where on stderr
    main()
