// One member of a benchmark call, in a process of its own:
//
//   p2pcall-bench-peer send --server URL --room R
//       p2pcallsink sending videotestsrc 640x480 at 30 fps, each frame
//       stamped with its capture time (see the stamp below), until SIGTERM,
//       SIGINT or end of stdin; --stats S prints its peers and bitrate
//       every S seconds; --adaptive sets congestion-control=adaptive.
//   p2pcall-bench-peer recv --server URL --room R [--calls N]
//       [--g2g SECONDS] [--hold]
//       joins with a fresh p2pcallsrc N times, one after the other, and
//       prints per call when it sent join-room, was told it joined, saw
//       its peer connected and the first decoded video frame left
//       p2pcallsrc; --g2g then reads the stamps of the frames for SECONDS,
//       as they leave p2pcallsrc (decoded) and when a synchronising sink
//       renders them (shown); --hold keeps the call until SIGTERM, printing
//       every second the frames decoded, the gaps over 1 s (freezes) and
//       the bytes received so far; --turn-server URI receives through that
//       TURN server only (relay-only).
//
// Output: one JSON object per line on stdout. Times are CLOCK_REALTIME in
// microseconds (g_get_real_time), the clock the browser side of the
// benchmark is put on too, so that two processes can be compared.
//
// When join-room is sent: the elements' signalling client logs "connected
// to" on the p2pcallsignalling category and sends join-room right after,
// on the same thread. This program catches that log line with a log
// function of its own; the line's time is the moment join-room goes out
// (within microseconds). If it is ever missing, the time PLAYING was set
// (a little earlier: before the WebSocket connects) is used and the line
// says "join_from": "playing".
#include <gst/gst.h>
#include <gst/video/video.h>
#include <glib-unix.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <functional>
#include <cstring>
#include <string>
#include <vector>

namespace {

// The stamp: 40 bits of the capture time (µs, modulo 2^40, about 12.7
// days) as 16x16 luma blocks, black for 0 and white for 1, most significant
// bit first, in the top row of blocks; the row below holds the complement,
// so a damaged stamp is recognised and skipped. The page's canvas sender
// (tests/bench/page-bench.js) draws the same pattern.
constexpr int kStampBits = 40;
constexpr int kBlock = 16;
constexpr guint64 kStampModulo = G_GUINT64_CONSTANT (1) << kStampBits;

void
write_stamp (GstVideoFrame *frame, guint64 value)
{
  guint8 *y = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  for (int row = 0; row < 2; row++)
    for (int bit = 0; bit < kStampBits; bit++) {
      bool one = (value >> (kStampBits - 1 - bit)) & 1;
      if (row == 1)
        one = !one;
      guint8 level = one ? 235 : 16;
      for (int dy = 0; dy < kBlock; dy++)
        memset (y + (row * kBlock + dy) * stride + bit * kBlock, level, kBlock);
    }
  // Grey chroma under the stamp, so its blocks stay black and white.
  for (int plane = 1; plane < 3; plane++) {
    guint8 *c = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, plane);
    int cstride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, plane);
    for (int dy = 0; dy < kBlock; dy++)
      memset (c + dy * cstride, 128, kStampBits * kBlock / 2);
  }
}

// The mean of the inner 8x8 pixels of block (row, bit).
int
block_level (const guint8 *y, int stride, int row, int bit)
{
  int sum = 0;
  for (int dy = 4; dy < 12; dy++)
    for (int dx = 4; dx < 12; dx++)
      sum += y[(row * kBlock + dy) * stride + bit * kBlock + dx];
  return sum / 64;
}

bool
read_stamp (GstVideoFrame *frame, guint64 *value)
{
  if (GST_VIDEO_FRAME_WIDTH (frame) < kStampBits * kBlock ||
      GST_VIDEO_FRAME_HEIGHT (frame) < 2 * kBlock)
    return false;
  const guint8 *y = (const guint8 *) GST_VIDEO_FRAME_PLANE_DATA (frame, 0);
  int stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, 0);
  guint64 v = 0;
  for (int bit = 0; bit < kStampBits; bit++) {
    bool one = block_level (y, stride, 0, bit) > 128;
    bool complement = block_level (y, stride, 1, bit) > 128;
    if (one == complement)
      return false;
    v = (v << 1) | (one ? 1 : 0);
  }
  *value = v;
  return true;
}

gint64
now_us ()
{
  return g_get_real_time ();
}

// ---------------------------------------------------------------------------

struct Options {
  std::string mode;
  std::string server;
  std::string room;
  int calls = 1;
  double g2g_seconds = 0;
  bool hold = false;
  int timeout_s = 30;
  int stats_s = 0;
  bool adaptive = false;
  std::string turn_server;
};

GMainLoop *loop = nullptr;
std::atomic<gint64> join_sent_us {0};
std::atomic<bool> stop_requested {false};

// Catches the signalling client's "connected to" line (see the top).
void
log_function (GstDebugCategory *category, GstDebugLevel, const gchar *,
    const gchar *, gint, GObject *, GstDebugMessage *message, gpointer)
{
  if (strcmp (gst_debug_category_get_name (category), "p2pcallsignalling"))
    return;
  const char *text = gst_debug_message_get (message);
  if (text && g_str_has_prefix (text, "connected to") && !join_sent_us.load ())
    join_sent_us = now_us ();
}

void
print_line (const std::string &json)
{
  printf ("%s\n", json.c_str ());
  fflush (stdout);
}

gboolean
request_stop (gpointer)
{
  stop_requested = true;
  g_main_loop_quit (loop);
  return G_SOURCE_CONTINUE;
}

// The driver closing our stdin (or dying) ends us too.
gboolean
on_stdin (gint, GIOCondition, gpointer)
{
  char buf[256];
  if (read (0, buf, sizeof buf) <= 0) {
    request_stop (nullptr);
    return G_SOURCE_REMOVE;
  }
  return G_SOURCE_CONTINUE;
}

gboolean
on_bus (GstBus *, GstMessage *msg, gpointer)
{
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) err = nullptr;
      g_autofree char *debug = nullptr;
      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("bench-peer: %s (%s)\n", err->message, GST_STR_NULL (debug));
      print_line ("{\"error\":\"pipeline error\"}");
      g_main_loop_quit (loop);
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);
      const char *name = gst_structure_get_name (s);
      if (g_str_equal (name, "p2pcall-joined"))
        print_line ("{\"event\":\"joined\"}");
      else if (g_str_equal (name, "p2pcall-peer-connection-state"))
        print_line (std::string ("{\"event\":\"peer\",\"state\":\"") +
            gst_structure_get_string (s, "state") + "\"}");
      break;
    }
    default:
      break;
  }
  return TRUE;
}

// --- send ------------------------------------------------------------------

GstPadProbeReturn
stamp_probe (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto vinfo = static_cast<GstVideoInfo *> (data);
  GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
  buf = gst_buffer_make_writable (buf);
  GST_PAD_PROBE_INFO_DATA (info) = buf;
  GstVideoFrame frame;
  if (gst_video_frame_map (&frame, vinfo, buf, GST_MAP_WRITE)) {
    write_stamp (&frame, (guint64) now_us () % kStampModulo);
    gst_video_frame_unmap (&frame);
  }
  return GST_PAD_PROBE_OK;
}

// Every --stats seconds: how many peers the sink sends to and at what total bitrate.
gboolean
print_send_stats (gpointer sink)
{
  GstStructure *stats = nullptr;
  g_object_get (sink, "stats", &stats, nullptr);
  if (!stats)
    return G_SOURCE_CONTINUE;
  guint64 bitrate = 0;
  int peers = 0;
  for (int i = 0; i < gst_structure_n_fields (stats); i++) {
    const GValue *v = gst_structure_get_value (stats,
        gst_structure_nth_field_name (stats, i));
    guint64 b = 0;
    if (GST_VALUE_HOLDS_STRUCTURE (v) && gst_structure_get_uint64 (
            gst_value_get_structure (v), "bitrate", &b)) {
      bitrate += b;
      peers++;
    }
  }
  gst_structure_free (stats);
  print_line ("{\"event\":\"stats\",\"peers\":" + std::to_string (peers) +
      ",\"bitrate_kbps\":" + std::to_string (bitrate / 1000) + "}");
  return G_SOURCE_CONTINUE;
}

int
run_send (const Options &opt)
{
  g_autofree char *description = g_strdup_printf (
      "videotestsrc is-live=true pattern=smpte horizontal-speed=4 "
      "! video/x-raw,format=I420,width=640,height=480,framerate=30/1 "
      "! identity name=stamp ! p2pcallsink name=sink server=%s room=%s "
      "peer-name=bench-sender congestion-control=%s", opt.server.c_str (),
      opt.room.c_str (), opt.adaptive ? "adaptive" : "none");
  g_autoptr (GError) err = nullptr;
  GstElement *pipeline = gst_parse_launch (description, &err);
  if (!pipeline) {
    g_printerr ("bench-peer: %s\n", err->message);
    return 1;
  }
  GstVideoInfo vinfo;
  gst_video_info_set_format (&vinfo, GST_VIDEO_FORMAT_I420, 640, 480);
  GstElement *stamp = gst_bin_get_by_name (GST_BIN (pipeline), "stamp");
  GstPad *pad = gst_element_get_static_pad (stamp, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, stamp_probe, &vinfo,
      nullptr);
  gst_object_unref (pad);
  gst_object_unref (stamp);

  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (opt.stats_s > 0)
    g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, opt.stats_s,
        print_send_stats, gst_object_ref (sink), gst_object_unref);
  gst_object_unref (sink);
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, nullptr);
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  g_main_loop_run (loop);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  return 0;
}

// --- recv ------------------------------------------------------------------

struct Call {
  GstElement *pipeline = nullptr;
  gint64 playing_us = 0;
  std::atomic<gint64> first_frame_us {0};
  std::atomic<bool> linked {false};
  // Glass-to-glass, from the streaming thread.
  double g2g_seconds = 0;
  std::vector<double> latencies_ms;
  int unreadable = 0;
  gint64 g2g_start_us = 0;
  gint64 g2g_end_us = 0;
  std::atomic<bool> g2g_done {false};
  std::vector<double> shown_ms;       // at a synchronising sink's render
  // Phases, from the bus's sync handler (the posting thread).
  std::atomic<gint64> joined_us {0};
  std::atomic<gint64> connected_us {0};
  // What a viewer would notice (--hold): frames, and gaps over a second.
  std::atomic<guint64> frames {0};
  std::atomic<guint64> freezes {0};
  std::atomic<gint64> last_frame_us {0};
  GstElement *src = nullptr;    // the pipeline holds it
};

GstPadProbeReturn
frame_probe (GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
  auto call = static_cast<Call *> (data);
  gint64 now = now_us ();
  gint64 expected = 0;
  call->first_frame_us.compare_exchange_strong (expected, now);
  call->frames++;
  gint64 last = call->last_frame_us.exchange (now);
  if (last && now - last > G_USEC_PER_SEC)
    call->freezes++;
  if (call->g2g_seconds <= 0 || call->g2g_done)
    return GST_PAD_PROBE_OK;
  // The first second is the call settling (first key frame, jitter
  // buffer filling); the figures are for the call that follows.
  if (!call->g2g_start_us)
    call->g2g_start_us = now + G_USEC_PER_SEC;
  if (now < call->g2g_start_us)
    return GST_PAD_PROBE_OK;
  if (now > call->g2g_start_us + (gint64) (call->g2g_seconds * 1e6)) {
    call->g2g_end_us = now;
    call->g2g_done = true;
    return GST_PAD_PROBE_OK;
  }
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstVideoInfo vinfo;
  GstVideoFrame frame;
  guint64 stamp;
  if (caps && gst_video_info_from_caps (&vinfo, caps) &&
      gst_video_frame_map (&frame, &vinfo, GST_PAD_PROBE_INFO_BUFFER (info),
          GST_MAP_READ)) {
    if (GST_VIDEO_INFO_FORMAT (&vinfo) == GST_VIDEO_FORMAT_I420 &&
        read_stamp (&frame, &stamp))
      call->latencies_ms.push_back (((guint64) now - stamp) % kStampModulo /
          1000.0);
    else
      call->unreadable++;
    gst_video_frame_unmap (&frame);
  }
  return GST_PAD_PROBE_OK;
}

// fakesink's handoff: the moment a synchronising sink renders the frame.
void
on_shown (GstElement *, GstBuffer *buffer, GstPad *pad, gpointer data)
{
  auto call = static_cast<Call *> (data);
  gint64 now = now_us ();
  if (!call->g2g_start_us || now < call->g2g_start_us || call->g2g_done)
    return;
  g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
  GstVideoInfo vinfo;
  GstVideoFrame frame;
  guint64 stamp;
  if (caps && gst_video_info_from_caps (&vinfo, caps) &&
      gst_video_frame_map (&frame, &vinfo, buffer, GST_MAP_READ)) {
    if (GST_VIDEO_INFO_FORMAT (&vinfo) == GST_VIDEO_FORMAT_I420 &&
        read_stamp (&frame, &stamp))
      call->shown_ms.push_back (((guint64) now - stamp) % kStampModulo /
          1000.0);
    gst_video_frame_unmap (&frame);
  }
}

// Times the phases of a call where their messages are posted.
GstBusSyncReply
phase_times (GstBus *, GstMessage *msg, gpointer data)
{
  auto call = static_cast<Call *> (data);
  if (GST_MESSAGE_TYPE (msg) != GST_MESSAGE_ELEMENT)
    return GST_BUS_PASS;
  const GstStructure *s = gst_message_get_structure (msg);
  gint64 expected = 0;
  if (gst_structure_has_name (s, "p2pcall-joined"))
    call->joined_us.compare_exchange_strong (expected, now_us ());
  else if (gst_structure_has_name (s, "p2pcall-peer-connection-state") &&
      !g_strcmp0 (gst_structure_get_string (s, "state"), "connected"))
    call->connected_us.compare_exchange_strong (expected, now_us ());
  return GST_BUS_PASS;
}

void
on_pad_added (GstElement *src, GstPad *pad, gpointer data)
{
  auto call = static_cast<Call *> (data);
  if (!g_str_has_prefix (GST_PAD_NAME (pad), "video_") || call->linked)
    return;
  call->linked = true;
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, frame_probe, call,
      nullptr);
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, nullptr);
  gst_bin_add (GST_BIN (call->pipeline), sink);
  GstElement *first = sink;
  if (call->g2g_seconds > 0) {
    // Glass-to-glass also reads each frame when a synchronising sink
    // renders it (after the jitter buffer's latency), on a branch of its
    // own so that its waiting does not delay the decoded frames.
    GstElement *tee = gst_element_factory_make ("tee", nullptr);
    GstElement *q1 = gst_element_factory_make ("queue", nullptr);
    GstElement *q2 = gst_element_factory_make ("queue", nullptr);
    GstElement *shown = gst_element_factory_make ("fakesink", nullptr);
    g_object_set (shown, "sync", TRUE, "async", FALSE, "signal-handoffs",
        TRUE, nullptr);
    g_signal_connect (shown, "handoff", G_CALLBACK (on_shown), call);
    gst_bin_add_many (GST_BIN (call->pipeline), tee, q1, q2, shown, nullptr);
    gst_element_link_many (tee, q1, sink, nullptr);
    gst_element_link_many (tee, q2, shown, nullptr);
    for (GstElement *e : {shown, q2, q1})
      gst_element_sync_state_with_parent (e);
    first = tee;
  }
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (first);
  GstPad *sinkpad = gst_element_get_static_pad (first, "sink");
  gst_pad_link (pad, sinkpad);
  gst_object_unref (sinkpad);
}

// The bytes a p2pcallsrc received so far (its stats property).
guint64
received_bytes (GstElement *src)
{
  GstStructure *stats = nullptr;
  g_object_get (src, "stats", &stats, nullptr);
  guint64 total = 0;
  for (int i = 0; stats && i < gst_structure_n_fields (stats); i++) {
    const GValue *v = gst_structure_get_value (stats,
        gst_structure_nth_field_name (stats, i));
    guint64 bytes = 0;
    if (GST_VALUE_HOLDS_STRUCTURE (v) && gst_structure_get_uint64 (
            gst_value_get_structure (v), "bytes", &bytes))
      total += bytes;
  }
  if (stats)
    gst_structure_free (stats);
  return total;
}

// Dispatches the default context until @done says so or @timeout_ms
// pass. (Times are taken on the streaming threads, not here.)
bool
run_until (std::function<bool ()> done, gint64 timeout_ms)
{
  gint64 deadline = g_get_monotonic_time () + timeout_ms * 1000;
  while (!done ()) {
    if (g_get_monotonic_time () > deadline)
      return false;
    while (g_main_context_iteration (nullptr, FALSE))
      ;
    g_usleep (2000);
  }
  return true;
}

int
run_recv (const Options &opt)
{
  gst_debug_set_threshold_for_name ("p2pcallsignalling", GST_LEVEL_INFO);
  gst_debug_remove_log_function (gst_debug_log_default);
  gst_debug_add_log_function (log_function, nullptr, nullptr);

  int failures = 0;
  for (int i = 0; i < opt.calls && !stop_requested; i++) {
    Call call;
    call.g2g_seconds = opt.g2g_seconds;
    call.pipeline = gst_pipeline_new (nullptr);
    GstElement *src = gst_element_factory_make ("p2pcallsrc", nullptr);
    if (!src) {
      g_printerr ("bench-peer: no p2pcallsrc (GST_PLUGIN_PATH?)\n");
      return 1;
    }
    g_object_set (src, "server", opt.server.c_str (), "room",
        opt.room.c_str (), "peer-name", "bench-receiver", nullptr);
    gst_util_set_object_arg (G_OBJECT (src), "layout", "separate");
    if (!opt.turn_server.empty ()) {
      g_object_set (src, "turn-server", opt.turn_server.c_str (), nullptr);
      gst_util_set_object_arg (G_OBJECT (src), "ice-transport-policy",
          "relay");
    }
    gst_bin_add (GST_BIN (call.pipeline), src);
    g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), &call);
    GstBus *bus = gst_element_get_bus (call.pipeline);
    gst_bus_set_sync_handler (bus, phase_times, &call, nullptr);
    gst_bus_add_watch (bus, on_bus, nullptr);

    join_sent_us = 0;
    call.playing_us = now_us ();
    gst_element_set_state (call.pipeline, GST_STATE_PLAYING);
    bool ok = run_until ([&] { return call.first_frame_us.load () != 0 ||
          stop_requested; }, opt.timeout_s * 1000) && call.first_frame_us.load ();
    gint64 join = join_sent_us.load ();
    const char *join_from = join ? "log" : "playing";
    if (!join)
      join = call.playing_us;
    if (ok) {
      auto since_join = [&] (gint64 t) { return t ? (t - join) / 1000.0 : -1; };
      char line[512];
      g_snprintf (line, sizeof line, "{\"call\":%d,\"join_us\":%" G_GINT64_FORMAT
          ",\"first_frame_us\":%" G_GINT64_FORMAT ",\"setup_ms\":%.1f,"
          "\"from_playing_ms\":%.1f,\"joined_ms\":%.1f,"
          "\"connected_ms\":%.1f,\"join_from\":\"%s\"}", i, join,
          call.first_frame_us.load (), since_join (call.first_frame_us),
          (call.first_frame_us.load () - call.playing_us) / 1000.0,
          since_join (call.joined_us), since_join (call.connected_us),
          join_from);
      print_line (line);
    } else {
      failures++;
      print_line ("{\"call\":" + std::to_string (i) +
          ",\"error\":\"no video frame\"}");
    }
    if (ok && opt.g2g_seconds > 0) {
      run_until ([&] { return call.g2g_done.load () || stop_requested; },
          (gint64) (opt.g2g_seconds + 10) * 1000);
      auto json_list = [] (const std::vector<double> &values) {
        std::string list;
        for (double ms : values)
          list += (list.empty () ? "" : ",") + std::to_string (ms);
        return "[" + list + "]";
      };
      // Stop the sink first: its handoffs write shown_ms.
      gst_element_set_state (call.pipeline, GST_STATE_NULL);
      print_line ("{\"g2g_ms\":" + json_list (call.latencies_ms) +
          ",\"shown_ms\":" + json_list (call.shown_ms) +
          ",\"unreadable\":" + std::to_string (call.unreadable) + "}");
    }
    if (ok && opt.hold) {
      print_line ("{\"event\":\"holding\"}");
      call.src = src;
      guint id = g_timeout_add_seconds (1, +[] (gpointer data) -> gboolean {
            auto c = static_cast<Call *> (data);
            guint64 bytes = received_bytes (c->src);
            print_line ("{\"event\":\"watch\",\"at_us\":" +
                std::to_string (now_us ()) + ",\"frames\":" +
                std::to_string (c->frames.load ()) + ",\"freezes\":" +
                std::to_string (c->freezes.load ()) + ",\"bytes\":" +
                std::to_string (bytes) + "}");
            return G_SOURCE_CONTINUE;
          }, &call);
      run_until ([] { return stop_requested.load (); }, G_GINT64_CONSTANT (86400000));
      g_source_remove (id);
    }
    gst_element_set_state (call.pipeline, GST_STATE_NULL);
    gst_bus_set_sync_handler (bus, nullptr, nullptr, nullptr);
    gst_bus_remove_watch (bus);
    gst_object_unref (bus);
    gst_object_unref (call.pipeline);
    // Let the sender see us leave before the next call joins.
    if (i + 1 < opt.calls)
      run_until ([] { return stop_requested.load (); }, 300);
  }
  return failures ? 2 : 0;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  Options opt;
  if (argc < 2) {
    g_printerr ("usage: %s send|recv --server URL --room ROOM [--calls N] "
        "[--g2g SECONDS] [--hold] [--timeout SECONDS] [--stats SECONDS] "
        "[--adaptive] [--turn-server URI]\n", argv[0]);
    return 64;
  }
  opt.mode = argv[1];
  for (int i = 2; i < argc; i++) {
    std::string arg = argv[i];
    auto value = [&] () -> std::string {
      if (i + 1 >= argc) {
        g_printerr ("bench-peer: %s needs a value\n", arg.c_str ());
        exit (64);
      }
      return argv[++i];
    };
    if (arg == "--server")
      opt.server = value ();
    else if (arg == "--room")
      opt.room = value ();
    else if (arg == "--calls")
      opt.calls = atoi (value ().c_str ());
    else if (arg == "--g2g")
      opt.g2g_seconds = g_ascii_strtod (value ().c_str (), nullptr);
    else if (arg == "--timeout")
      opt.timeout_s = atoi (value ().c_str ());
    else if (arg == "--stats")
      opt.stats_s = atoi (value ().c_str ());
    else if (arg == "--hold")
      opt.hold = true;
    else if (arg == "--adaptive")
      opt.adaptive = true;
    else if (arg == "--turn-server")
      opt.turn_server = value ();
    else {
      g_printerr ("bench-peer: unknown option %s\n", arg.c_str ());
      return 64;
    }
  }
  if (opt.server.empty () || opt.room.empty () ||
      (opt.mode != "send" && opt.mode != "recv")) {
    g_printerr ("bench-peer: send or recv, with --server and --room\n");
    return 64;
  }

  loop = g_main_loop_new (nullptr, FALSE);
  g_unix_signal_add (SIGTERM, request_stop, nullptr);
  g_unix_signal_add (SIGINT, request_stop, nullptr);
  g_unix_fd_add (0, G_IO_IN, on_stdin, nullptr);
  int rc = opt.mode == "send" ? run_send (opt) : run_recv (opt);
  g_main_loop_unref (loop);
  return rc;
}
