// p2pcallsink congestion-control=adaptive with real narrow links: one
// sender, one receiver relayed through a coturn whose max-bps caps its
// session, and one receiver on direct host candidates. Each runs as its own
// meson test in a loopback-only network namespace: GST_CHECKS=<name> runs
// one.
#include "gst-test-turn.h"

namespace {

constexpr const char kTurnSecret[] = "adaptive-shared-secret";
// coturn max-bps: bytes per second per relayed session (about 320 kbit/s).
constexpr guint kCapBytesPerSecond = 40000;
constexpr int kLadderSize = 3;
// Generous: the estimate has to find the cap, then hold under it.
constexpr gint64 kConvergeUs = 25 * G_USEC_PER_SEC;
constexpr gint64 kWindowUs = 10 * G_USEC_PER_SEC;
// Bounds the climb back once a link widens: up-switches wait for the
// estimate to hold (and back off after failed ones).
constexpr gint64 kClimbUs = 90 * G_USEC_PER_SEC;

// Every decoded video frame that reaches a p2pcallsrc's outputs: when, and
// how large.
class VideoWatch {
public:
  struct Frame {
    gint64 time_us;
    int width;
  };

  VideoWatch (Pipeline &p, const char *src_name)
    : pipeline_ (GST_ELEMENT (gst_object_ref (p.pipeline_)))
  {
    g_signal_connect (p.get (src_name), "pad-added", G_CALLBACK (on_pad_added),
        this);
  }

  // Declared after its Pipeline, a watch stops it first: no streaming
  // thread reaches the probe afterwards.
  ~VideoWatch ()
  {
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    gst_object_unref (pipeline_);
  }

  std::vector<Frame> frames (gint64 from_us, gint64 to_us)
  {
    std::lock_guard<std::mutex> lock (lock_);
    std::vector<Frame> out;
    for (const Frame &f : frames_)
      if (f.time_us >= from_us && f.time_us < to_us)
        out.push_back (f);
    return out;
  }

  size_t count ()
  {
    std::lock_guard<std::mutex> lock (lock_);
    return frames_.size ();
  }

private:
  static void on_pad_added (GstElement *, GstPad *pad, VideoWatch *self)
  {
    GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
    g_object_set (sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add (GST_BIN (self->pipeline_), sink);
    gst_element_sync_state_with_parent (sink);
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
    if (g_str_has_prefix (GST_PAD_NAME (pad), "video"))
      gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER,
          +[] (GstPad * pad, GstPadProbeInfo *, gpointer data) {
            auto self = static_cast<VideoWatch *> (data);
            g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
            int width = 0;
            if (caps)
              gst_structure_get_int (gst_caps_get_structure (caps, 0),
                  "width", &width);
            std::lock_guard<std::mutex> lock (self->lock_);
            self->frames_.push_back ({g_get_monotonic_time (), width});
            return GST_PAD_PROBE_OK;
          }, self, nullptr);
    gst_pad_link (pad, sinkpad);
  }

  GstElement *pipeline_;
  std::mutex lock_;
  std::vector<Frame> frames_;
};

// What a user watching would notice over a window.
struct Watched {
  double fps = 0;
  double longest_gap_s = 0;
  int last_width = 0;
};

Watched
watch_window (VideoWatch &watch, gint64 from_us, gint64 to_us)
{
  Watched w;
  std::vector<VideoWatch::Frame> frames = watch.frames (from_us, to_us);
  w.fps = frames.size () * 1e6 / (to_us - from_us);
  gint64 prev = from_us;
  for (const VideoWatch::Frame &f : frames) {
    w.longest_gap_s = std::max (w.longest_gap_s, (f.time_us - prev) / 1e6);
    prev = f.time_us;
  }
  w.longest_gap_s = std::max (w.longest_gap_s, (to_us - prev) / 1e6);
  if (!frames.empty ())
    w.last_width = frames.back ().width;
  return w;
}

// The sum over every peer in @element's stats property of the integer
// @field ("bytes", "packets-lost", ...).
gint64
sum_peer_stat (GstElement *element, const char *field)
{
  gint64 total = 0;
  for_each_peer (element, [&] (const GstStructure *peer) {
        const GValue *v = gst_structure_get_value (peer, field);
        if (v && G_VALUE_HOLDS_UINT64 (v))
          total += (gint64) g_value_get_uint64 (v);
        else if (v && G_VALUE_HOLDS_INT64 (v))
          total += g_value_get_int64 (v);
      });
  return total;
}

std::string
adaptive_sender (const std::string &url, const char *room,
    const char *codec = "vp8")
{
  // A moving picture with detail: it takes every bit it is given.
  return "videotestsrc is-live=true pattern=smpte horizontal-speed=4 ! "
      "video/x-raw,width=640,height=480,framerate=30/1 ! p2pcallsink "
      "name=sink congestion-control=adaptive ladder-size=" +
      std::to_string (kLadderSize) + " video-codec=" + codec + " room=" +
      room + " server=" + url;
}

// Runs the main context (and so the buses) for @us.
void
run_for (gint64 us)
{
  gint64 until = g_get_monotonic_time () + us;
  wait_for ([&] { return g_get_monotonic_time () >= until; }, us + 1);
}

std::string
describe_stats (GstElement *element)
{
  GstStructure *stats = nullptr;
  g_object_get (element, "stats", &stats, nullptr);
  g_autofree char *text = stats ? gst_structure_to_string (stats) :
      g_strdup ("(none)");
  if (stats)
    gst_structure_free (stats);
  return text;
}

// A receiver relayed through @turn only, with its own TURN credentials.
void
relay_through (GstElement *src, const Coturn &turn, const char *name)
{
  std::string user = std::to_string (g_get_real_time () / G_USEC_PER_SEC +
      3600) + ":" + name;
  std::string uri = turn.uri (user, turn_password (kTurnSecret, user));
  g_object_set (src, "turn-server", uri.c_str (), nullptr);
  gst_util_set_object_arg (G_OBJECT (src), "ice-transport-policy", "relay");
}

// Kernel traffic shaping in the test's own namespace (iproute2's tc: an
// htb class with a short queue, as at a real bottleneck): the relayed media
// coturn sends from its listening port to the receiver is held to @kbit.
// lift() widens the link mid-call, which coturn's max-bps (fixed per
// allocation) cannot.
class Bottleneck {
public:
  Bottleneck (guint coturn_port, guint kbit, guint queue_bytes = 0)
  {
    // About 400 ms of the narrow rate by default: a full queue drops, it
    // does not hold the media for seconds.
    if (!queue_bytes)
      queue_bytes = kbit * 1000 / 8 * 4 / 10;
    std::string rate = std::to_string (kbit) + "kbit";
    tc ({"qdisc", "add", "dev", "lo", "root", "handle", "1:", "htb",
            "default", "10", "r2q", "1"});
    tc ({"class", "add", "dev", "lo", "parent", "1:", "classid", "1:10",
            "htb", "rate", "10gbit"});
    tc ({"class", "add", "dev", "lo", "parent", "1:", "classid", "1:20",
            "htb", "rate", rate, "ceil", rate, "burst", "6k"});
    tc ({"qdisc", "add", "dev", "lo", "parent", "1:20", "handle", "20:",
            "bfifo", "limit", std::to_string (queue_bytes)});
    // Only the relayed media (TURN ChannelData: its first byte is
    // 0x40-0x7f, 28 bytes into the IP packet); coturn's answers to the
    // receiver's TURN requests pass, as most links would let them.
    tc ({"filter", "add", "dev", "lo", "parent", "1:", "protocol", "ip",
            "u32", "match", "ip", "sport", std::to_string (coturn_port),
            "0xffff", "match", "u8", "0x40", "0xc0", "at", "28",
            "flowid", "1:20"});
  }

  ~Bottleneck ()
  {
    tc ({"qdisc", "del", "dev", "lo", "root"});
  }

  // The relayed media then goes the wide default way.
  void lift ()
  {
    tc ({"filter", "del", "dev", "lo", "parent", "1:"});
  }

private:
  static void tc (std::vector<std::string> args)
  {
    args.insert (args.begin (), "tc");
    std::vector<char *> argv;
    for (std::string &a : args)
      argv.push_back (a.data ());
    argv.push_back (nullptr);
    g_autofree char *err = nullptr;
    int status = 0;
    g_autoptr (GError) error = nullptr;
    gboolean ran = g_spawn_sync (nullptr, argv.data (), nullptr,
        G_SPAWN_SEARCH_PATH, nullptr, nullptr, nullptr, &err, &status, &error);
    fail_unless (ran && g_spawn_check_wait_status (status, nullptr),
        "%s failed: %s", g_strjoinv (" ", argv.data ()),
        error ? error->message : GST_STR_NULL (err));
  }
};

// The end of @text: a check message has to be short.
std::string
tail (const std::string &text)
{
  return text.size () > 2000 ? "..." + text.substr (text.size () - 2000) :
      text;
}

// The width of the picture @watch saw last.
int
last_width (VideoWatch &watch)
{
  gint64 now = g_get_monotonic_time ();
  std::vector<VideoWatch::Frame> frames = watch.frames (now - G_USEC_PER_SEC,
      now + 1);
  return frames.empty () ? 0 : frames.back ().width;
}

// Plays @receiver, relayed through @turn, and waits for the first frame
// @watch sees.
void
play_until_video (Pipeline &receiver, VideoWatch &watch, const Coturn &turn)
{
  fail_if (receiver.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return watch.count () > 0; },
          30 * G_USEC_PER_SEC), "no video; coturn said:\n%s",
      tail (turn.log ()).c_str ());
}

}  // namespace

// One sender, a receiver through a capped relay and a direct one: each
// gets what its link carries, from at most the ladder's encoders
// (@encoder: the codec's encoder element).
static void
check_capped_direct (const char *codec, const char *encoder)
{
  allow_libnice_turn_refresh_warning ();
  Coturn turn (kTurnSecret, kCapBytesPerSecond);
  ServerProcess server;
  Pipeline sender (adaptive_sender (server.url (), "adaptive", codec));
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));

  Pipeline direct (src_pipeline (server.url (), "adaptive", "direct"));
  VideoWatch direct_watch (direct, "direct");
  Pipeline capped (src_pipeline (server.url (), "adaptive", "capped"));
  relay_through (capped.get ("capped"), turn, "capped");
  VideoWatch capped_watch (capped, "capped");
  fail_if (direct.play () == GST_STATE_CHANGE_FAILURE);
  fail_if (capped.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] {
            return direct_watch.count () > 0 && capped_watch.count () > 0;
          }, 30 * G_USEC_PER_SEC), "no video; coturn said:\n%s",
      tail (turn.log ()).c_str ());

  run_for (kConvergeUs);
  gint64 from = g_get_monotonic_time ();
  gint64 bytes_before = sum_peer_stat (capped.get ("capped"), "bytes");
  guint max_encoders = 0;
  for (int i = 0; i < 10; i++) {
    run_for (kWindowUs / 10);
    max_encoders = std::max (max_encoders,
        count_elements (sender.get ("sink"), encoder));
  }
  gint64 to = g_get_monotonic_time ();
  gint64 bytes_after = sum_peer_stat (capped.get ("capped"), "bytes");

  Watched c = watch_window (capped_watch, from, to);
  Watched d = watch_window (direct_watch, from, to);
  double capped_kbps = (bytes_after - bytes_before) * 8.0 / ((to - from) /
      1e3);
  g_print ("capped: %.1f fps, longest gap %.2f s, width %d, %.0f kbit/s\n"
      "direct: %.1f fps, longest gap %.2f s, width %d\nencoders: %u\n"
      "sender stats: %s\n", c.fps, c.longest_gap_s, c.last_width, capped_kbps,
      d.fps, d.longest_gap_s, d.last_width, max_encoders,
      describe_stats (sender.get ("sink")).c_str ());

  // The capped receiver keeps a moving picture, within what its link
  // carries, without freezes.
  fail_unless (c.fps >= 10, "capped receiver decodes %.1f fps", c.fps);
  fail_unless (c.longest_gap_s <= 1.0, "capped receiver froze for %.2f s",
      c.longest_gap_s);
  fail_unless (capped_kbps <= kCapBytesPerSecond * 8 / 1000.0,
      "capped receiver got %.0f kbit/s through a %u kbit/s cap", capped_kbps,
      kCapBytesPerSecond * 8 / 1000);
  // The direct one is not held back to the capped one's quality.
  fail_unless (d.fps >= 25, "direct receiver decodes %.1f fps", d.fps);
  fail_unless_equals_int (d.last_width, 640);
  fail_unless (c.last_width < 640, "the capped receiver is sent full size");
  // And not smaller than its link carries: 320x240 plays on 320 kbit/s.
  fail_unless_equals_int (c.last_width, 320);
  // The ladder bounds the encoders, whatever the number of receivers.
  fail_unless (max_encoders >= 1 && max_encoders <= (guint) kLadderSize,
      "%u encoders", max_encoders);
  assert_no_errors ({&sender, &direct, &capped});
  // Each peer's rate control is reported on the bus.
  fail_unless (sender.count ("p2pcall-peer-bitrate") > 0);
}

GST_START_TEST (test_adaptive_capped_direct)
{
  check_capped_direct ("vp8", "vp8enc");
}
GST_END_TEST;

// The same ladder of H.264 encodings (what hardware encoders give).
GST_START_TEST (test_adaptive_capped_direct_h264)
{
  check_capped_direct ("h264", "x264enc");
}
GST_END_TEST;

// A receiver whose link is narrow, then widens mid-call: it is moved down
// the ladder, then climbs back to the top layer.
GST_START_TEST (test_adaptive_cap_lifted)
{
  allow_libnice_turn_refresh_warning ();
  Coturn turn (kTurnSecret);
  Bottleneck link (turn.port (), kCapBytesPerSecond * 8 / 1000);
  ServerProcess server;
  Pipeline sender (adaptive_sender (server.url (), "lifted"));
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline capped (src_pipeline (server.url (), "lifted", "capped"));
  relay_through (capped.get ("capped"), turn, "capped");
  VideoWatch watch (capped, "capped");
  play_until_video (capped, watch, turn);

  run_for (kConvergeUs);
  g_print ("narrow link: %d wide; sender: %s\n", last_width (watch),
      describe_stats (sender.get ("sink")).c_str ());
  int narrow_width = last_width (watch);
  fail_unless (narrow_width > 0 && narrow_width < 640,
      "the narrow link was sent %d wide", narrow_width);

  link.lift ();
  gint64 lifted = g_get_monotonic_time ();
  bool top = wait_for ([&] { return last_width (watch) == 640; }, kClimbUs);
  g_print ("after the lift: %d wide after %.1f s; sender: %s\n",
      last_width (watch), (g_get_monotonic_time () - lifted) / 1e6,
      describe_stats (sender.get ("sink")).c_str ());
  fail_unless (top, "the receiver stayed %d wide for %" G_GINT64_FORMAT
      " s after its link widened", last_width (watch),
      kClimbUs / G_USEC_PER_SEC);
  // And it keeps a moving picture there.
  gint64 from = g_get_monotonic_time ();
  run_for (3 * G_USEC_PER_SEC);
  fail_unless (watch.frames (from, g_get_monotonic_time ()).size () >= 30,
      "the full picture is not moving");
  assert_no_errors ({&sender, &capped});
}
GST_END_TEST;

// A link that carries the stream on average but drops bursts (a short
// queue: a key frame loses some of its packets): the receiver asks for
// what is lost, the sender resends it, and the picture does not stop.
GST_START_TEST (test_lossy_link_retransmits)
{
  allow_libnice_turn_refresh_warning ();
  Coturn turn (kTurnSecret);
  // 2 Mbit/s for a 600 kbit/s stream, but room for only three packets.
  // One fixed-rate encoding: what is lost is resent, not adapted to.
  Bottleneck link (turn.port (), 2000, 3600);
  ServerProcess server;
  Pipeline sender ("videotestsrc is-live=true pattern=smpte "
      "horizontal-speed=4 ! video/x-raw,width=640,height=480,framerate=30/1 "
      "! p2pcallsink name=sink congestion-control=none video-bitrate=600 "
      "room=lossy server=" + server.url ());
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline receiver (src_pipeline (server.url (), "lossy", "lossy"));
  relay_through (receiver.get ("lossy"), turn, "lossy");
  VideoWatch watch (receiver, "lossy");
  play_until_video (receiver, watch, turn);

  run_for (3 * G_USEC_PER_SEC);
  gint64 from = g_get_monotonic_time ();
  run_for (kWindowUs);
  Watched w = watch_window (watch, from, g_get_monotonic_time ());
  gint64 resent = sum_peer_stat (receiver.get ("lossy"),
      "retransmitted-packets-received");
  gint64 lost = sum_peer_stat (receiver.get ("lossy"), "packets-lost");
  g_print ("lossy link: %.1f fps, longest gap %.2f s, %" G_GINT64_FORMAT
      " packets lost, %" G_GINT64_FORMAT " resent\nreceiver: %s\n", w.fps,
      w.longest_gap_s, lost, resent,
      describe_stats (receiver.get ("lossy")).c_str ());
  // The receiver's stats show what the link lost, and what came again.
  fail_unless (lost > 0, "no loss in the receiver's stats");
  fail_unless (resent > 0, "nothing was resent");
  // The sender counts what it resent too.
  gint64 sent_again = sum_peer_stat (sender.get ("sink"),
      "retransmitted-packets-sent");
  fail_unless (sent_again >= resent, "the sender says it resent %"
      G_GINT64_FORMAT " packets, the receiver got %" G_GINT64_FORMAT,
      sent_again, resent);
  fail_unless (w.fps >= 25, "%.1f fps over the lossy link", w.fps);
  fail_unless (w.longest_gap_s <= 1.0, "the picture stopped for %.2f s",
      w.longest_gap_s);
  assert_no_errors ({&sender, &receiver});
}
GST_END_TEST;

static Suite *
adaptive_suite (void)
{
  Suite *s = suite_create ("p2pcall-adaptive");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 170);
  tcase_add_checked_fixture (tc, nullptr, join_streaming_threads);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_adaptive_capped_direct);
  tcase_add_test (tc, test_adaptive_capped_direct_h264);
  tcase_add_test (tc, test_adaptive_cap_lifted);
  tcase_add_test (tc, test_lossy_link_retransmits);
  return s;
}

GST_CHECK_MAIN (adaptive);
