// p2pcallsink and p2pcallsrc through the real p2pcall-server, in a loopback
// only network namespace (tests/netns-run.sh). Each test runs as its own
// meson test with its own registry: GST_CHECKS=<name> runs one.
#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include <sys/prctl.h>

#include <csignal>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

constexpr gint64 kWaitUs = 20 * G_USEC_PER_SEC;

// Iterates the default context until @done, or fails the test on timeout.
template <typename F>
bool
wait_for (F done, gint64 timeout_us = kWaitUs)
{
  gint64 until = g_get_monotonic_time () + timeout_us;
  while (!done ()) {
    if (g_get_monotonic_time () > until)
      return false;
    if (!g_main_context_iteration (nullptr, FALSE))
      g_usleep (5000);
  }
  return true;
}

// A web root for the server: it refuses to start without an index.html.
class WebRoot {
public:
  WebRoot ()
  {
    dir_ = g_dir_make_tmp ("p2pcall-gst-XXXXXX", nullptr);
    g_autofree char *index = g_build_filename (dir_, "index.html", nullptr);
    g_file_set_contents (index, "<!doctype html>", -1, nullptr);
  }
  ~WebRoot ()
  {
    g_autofree char *index = g_build_filename (dir_, "index.html", nullptr);
    g_unlink (index);
    g_rmdir (dir_);
    g_free (dir_);
  }
  const char *path () const { return dir_; }
private:
  char *dir_;
};

// The server binary on a free (or given) loopback port; dies with the test.
class ServerProcess {
public:
  explicit ServerProcess (guint port = 0)
  {
    std::string port_text = std::to_string (port);
    const char *argv[] = { g_getenv ("P2PCALL_SERVER"), "--address",
      "127.0.0.1", "--port", port_text.c_str (), "--ice-server", "none",
      "--web-root", web_root_.path (), nullptr };
    g_autoptr (GError) err = nullptr;
    g_autoptr (GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_set_child_setup (launcher, +[] (gpointer) {
          prctl (PR_SET_PDEATHSIG, SIGTERM);
        }, nullptr, nullptr);
    proc_ = g_subprocess_launcher_spawnv (launcher, argv, &err);
    fail_unless (proc_ != nullptr, "cannot start %s", argv[0]);
    g_autoptr (GDataInputStream) out = g_data_input_stream_new (
        g_subprocess_get_stdout_pipe (proc_));
    g_autofree char *line = g_data_input_stream_read_line (out, nullptr,
        nullptr, &err);
    fail_unless (line != nullptr, "server printed nothing");
    const char *url = strstr (line, "://");
    fail_unless (url != nullptr, "unexpected line '%s'", line);
    port_ = (guint) atoi (strrchr (url, ':') + 1);
    fail_unless (port_ > 0);
  }

  ~ServerProcess ()
  {
    g_subprocess_send_signal (proc_, SIGTERM);
    g_subprocess_wait (proc_, nullptr, nullptr);
    g_object_unref (proc_);
  }

  guint port () const { return port_; }
  std::string url () const
  {
    return "ws://127.0.0.1:" + std::to_string (port_) + "/ws";
  }

private:
  WebRoot web_root_;
  GSubprocess *proc_ = nullptr;
  guint port_ = 0;
};

// What arrived on one output pad of a p2pcallsrc.
struct Received {
  std::string pad_name;
  int width = 0, height = 0;
  bool audio = false;
  guint buffers = 0;
  bool eos = false;
};

// A pipeline and what its bus said, polled from the test's thread.
class Pipeline {
public:
  explicit Pipeline (const std::string &description)
  {
    g_autoptr (GError) err = nullptr;
    pipeline_ = gst_parse_launch (description.c_str (), &err);
    fail_unless (pipeline_ != nullptr, "%s: %s", description.c_str (),
        err ? err->message : "?");
    if (!GST_IS_PIPELINE (pipeline_)) {       // a lone element
      GstElement *element = pipeline_;
      pipeline_ = gst_pipeline_new (nullptr);
      gst_bin_add (GST_BIN (pipeline_), element);
    }
    bus_ = gst_element_get_bus (pipeline_);
  }

  ~Pipeline ()
  {
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    gst_object_unref (bus_);
    gst_object_unref (pipeline_);
  }

  GstElement *get (const char *name)
  {
    GstElement *e = gst_bin_get_by_name (GST_BIN (pipeline_), name);
    gst_object_unref (e);       // the pipeline keeps it
    return e;
  }

  GstStateChangeReturn play ()
  {
    return gst_element_set_state (pipeline_, GST_STATE_PLAYING);
  }

  // Drains the bus; keeps element messages and errors.
  void poll ()
  {
    while (GstMessage *msg = gst_bus_pop (bus_)) {
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        g_autoptr (GError) err = nullptr;
        g_autofree char *dbg = nullptr;
        gst_message_parse_error (msg, &err, &dbg);
        errors.push_back (err->message);
      } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT) {
        const GstStructure *s = gst_message_get_structure (msg);
        if (g_str_has_prefix (gst_structure_get_name (s), "p2pcall-"))
          elements.push_back (gst_structure_copy (s));
      }
      gst_message_unref (msg);
    }
  }

  guint count (const char *name)
  {
    poll ();
    guint n = 0;
    for (GstStructure *s : elements)
      n += gst_structure_has_name (s, name);
    return n;
  }

  GstElement *pipeline_;
  GstBus *bus_;
  std::vector<std::string> errors;
  std::vector<GstStructure *> elements;
};

// Links every output of a p2pcallsrc to a fakesink and records what passes.
class Receiver {
public:
  Receiver (Pipeline &p, const char *src_name) : pipeline_ (p)
  {
    GstElement *src = p.get (src_name);
    g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), this);
  }

  std::vector<Received> snapshot ()
  {
    std::lock_guard<std::mutex> lock (lock_);
    return outputs_;
  }

  // True once @n outputs of each kind have seen a buffer with known caps.
  bool has_media (guint n_video, guint n_audio, guint min_buffers = 5)
  {
    guint v = 0, a = 0;
    for (const Received &r : snapshot ())
      if (r.buffers >= min_buffers)
        (r.audio ? a : v)++;
    return v >= n_video && a >= n_audio;
  }

private:
  static void on_pad_added (GstElement *, GstPad *pad, Receiver *self)
  {
    GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
    g_object_set (sink, "sync", FALSE, "async", FALSE, nullptr);
    gst_bin_add (GST_BIN (self->pipeline_.pipeline_), sink);
    gst_element_sync_state_with_parent (sink);
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (sink, "sink");
    size_t index;
    {
      std::lock_guard<std::mutex> lock (self->lock_);
      index = self->outputs_.size ();
      self->outputs_.push_back ({GST_PAD_NAME (pad)});
    }
    gst_pad_add_probe (sinkpad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
            GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM),
        +[] (GstPad * pad, GstPadProbeInfo * info, gpointer data) {
          auto self = static_cast<Receiver *> (g_object_get_data (
                  G_OBJECT (pad), "receiver"));
          size_t index = GPOINTER_TO_SIZE (data);
          std::lock_guard<std::mutex> lock (self->lock_);
          Received &r = self->outputs_[index];
          if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
            g_autoptr (GstCaps) caps = gst_pad_get_current_caps (pad);
            if (caps) {
              GstStructure *s = gst_caps_get_structure (caps, 0);
              r.audio = g_str_has_prefix (gst_structure_get_name (s), "audio");
              gst_structure_get_int (s, "width", &r.width);
              gst_structure_get_int (s, "height", &r.height);
              r.buffers++;
            }
          } else if (GST_EVENT_TYPE (GST_PAD_PROBE_INFO_EVENT (info)) ==
              GST_EVENT_EOS) {
            r.eos = true;
          }
          return GST_PAD_PROBE_OK;
        }, GSIZE_TO_POINTER (index), nullptr);
    g_object_set_data (G_OBJECT (sinkpad), "receiver", self);
    fail_unless_equals_int (gst_pad_link (pad, sinkpad), GST_PAD_LINK_OK);
  }

  Pipeline &pipeline_;
  std::mutex lock_;
  std::vector<Received> outputs_;
};

std::string
sink_pipeline (const std::string &url, const char *room)
{
  return "videotestsrc is-live=true ! video/x-raw,width=320,height=240,"
      "framerate=15/1 ! p2pcallsink name=sink room=" + std::string (room) +
      " server=" + url + " audiotestsrc is-live=true ! sink.";
}

std::string
src_pipeline (const std::string &url, const char *room, const char *name =
    "src")
{
  return "p2pcallsrc name=" + std::string (name) + " room=" + room +
      " server=" + url;
}

guint
count_elements (GstElement *bin, const char *factory_name)
{
  guint n = 0;
  g_autoptr (GstIterator) it = gst_bin_iterate_elements (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GstElement *e = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *f = gst_element_get_factory (e);
    n += f && g_str_equal (GST_OBJECT_NAME (f), factory_name);
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return n;
}

}  // namespace

GST_START_TEST (test_registration)
{
  for (const char *name : {"p2pcallsink", "p2pcallsrc"}) {
    GstElement *e = gst_element_factory_make (name, nullptr);
    fail_unless (e != nullptr, "%s is not registered", name);
    g_autofree char *server = nullptr, *room = nullptr, *ice = nullptr;
    g_object_get (e, "server", &server, "room", &room, "ice-addresses", &ice,
        nullptr);
    fail_unless_equals_string (server, "ws://127.0.0.1:8080/ws");
    fail_unless (room == nullptr);
    fail_unless_equals_string (ice, "");
    for (const char *prop : {"peer-name", "token", "stun-server",
            "turn-server", "stats"})
      fail_unless (g_object_class_find_property (G_OBJECT_GET_CLASS (e),
              prop) != nullptr, "%s has no %s", name, prop);
    gst_object_unref (e);
  }

  GstElement *sink = gst_element_factory_make ("p2pcallsink", nullptr);
  guint bitrate;
  gint codec;
  g_object_get (sink, "video-bitrate", &bitrate, "video-codec", &codec,
      nullptr);
  fail_unless_equals_int (bitrate, 1500);
  fail_unless_equals_int (codec, 0);
  gst_util_set_object_arg (G_OBJECT (sink), "video-codec", "h264");
  g_object_get (sink, "video-codec", &codec, nullptr);
  fail_unless_equals_int (codec, 2);
  GstPadTemplate *video = gst_element_get_pad_template (sink, "video_%u");
  GstPadTemplate *audio = gst_element_get_pad_template (sink, "audio_%u");
  fail_unless (video && audio);
  fail_unless_equals_int (GST_PAD_TEMPLATE_PRESENCE (video), GST_PAD_REQUEST);
  g_autoptr (GstCaps) vp8 = gst_caps_from_string ("video/x-vp8");
  fail_unless (gst_caps_can_intersect (GST_PAD_TEMPLATE_CAPS (video), vp8));
  g_autoptr (GstCaps) opus = gst_caps_from_string ("audio/x-opus");
  fail_unless (gst_caps_can_intersect (GST_PAD_TEMPLATE_CAPS (audio), opus));
  GstPad *pad = gst_element_request_pad_simple (sink, "video_%u");
  fail_unless_equals_string (GST_PAD_NAME (pad), "video_0");
  gst_element_release_request_pad (sink, pad);
  gst_object_unref (pad);
  gst_object_unref (sink);

  // gst-launch's automatic linking picks the pad by kind.
  for (auto [launch, pad_name] : {
          std::pair {"videotestsrc ! p2pcallsink name=s room=r", "video_0"},
          std::pair {"audiotestsrc ! p2pcallsink name=s room=r", "audio_0"}}) {
    GstElement *p = gst_parse_launch (launch, nullptr);
    fail_unless (p != nullptr, "%s", launch);
    GstElement *s = gst_bin_get_by_name (GST_BIN (p), "s");
    GstPad *linked = gst_element_get_static_pad (s, pad_name);
    fail_unless (linked != nullptr && gst_pad_is_linked (linked), "%s",
        launch);
    gst_object_unref (linked);
    gst_object_unref (s);
    gst_object_unref (p);
  }

  GstElement *src = gst_element_factory_make ("p2pcallsrc", nullptr);
  guint latency;
  g_object_get (src, "latency", &latency, nullptr);
  fail_unless_equals_int (latency, 50);
  GstPadTemplate *out = gst_element_get_pad_template (src, "video_%s_%u");
  fail_unless (out != nullptr);
  fail_unless_equals_int (GST_PAD_TEMPLATE_PRESENCE (out), GST_PAD_SOMETIMES);
  fail_unless (gst_element_get_pad_template (src, "audio_%s_%u") != nullptr);
  gst_object_unref (src);
}
GST_END_TEST;

GST_START_TEST (test_sink_to_src)
{
  ServerProcess server;
  auto sender_ptr = std::make_unique<Pipeline> (sink_pipeline (server.url (),
          "call"));
  Pipeline &sender = *sender_ptr;
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined") == 1; }));

  Pipeline viewer (src_pipeline (server.url (), "call"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }),
      "no media arrived");
  for (const Received &r : receiver.snapshot ()) {
    fail_unless (g_str_has_prefix (r.pad_name.c_str (),
            r.audio ? "audio_" : "video_"), "pad %s", r.pad_name.c_str ());
    if (!r.audio) {
      fail_unless_equals_int (r.width, 320);
      fail_unless_equals_int (r.height, 240);
    }
  }
  sender.poll ();
  viewer.poll ();
  fail_unless (sender.errors.empty () && viewer.errors.empty ());
  fail_unless_equals_int (count_elements (sender.get ("sink"), "webrtcbin"), 1);

  // One peer in the stats, connected.
  GstStructure *stats = nullptr;
  g_object_get (sender.get ("sink"), "stats", &stats, nullptr);
  fail_unless (stats != nullptr);
  fail_unless_equals_int (gst_structure_n_fields (stats), 1);
  const GstStructure *peer = gst_value_get_structure (
      gst_structure_get_value (stats, gst_structure_nth_field_name (stats, 0)));
  fail_unless_equals_string (gst_structure_get_string (peer, "state"),
      "connected");
  gst_structure_free (stats);

  // The sender leaves: its pads get EOS and go.
  sender_ptr.reset ();
  fail_unless (wait_for ([&] { return viewer.count ("p2pcall-peer-left"); }));
  for (const Received &r : receiver.snapshot ())
    fail_unless (r.eos, "no EOS on %s", r.pad_name.c_str ());
  GstElement *src = viewer.get ("src");
  fail_unless_equals_int (src->numsrcpads, 0);
  fail_unless_equals_int (count_elements (src, "webrtcbin"), 0);
}
GST_END_TEST;

GST_START_TEST (test_three_members)
{
  ServerProcess server;
  // The first viewer is in the room first: the sink answers its offer.
  Pipeline viewer1 (src_pipeline (server.url (), "three", "src"));
  Receiver receiver1 (viewer1, "src");
  fail_if (viewer1.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return viewer1.count ("p2pcall-joined"); }));

  Pipeline sender (sink_pipeline (server.url (), "three"));
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));

  auto viewer2 = std::make_unique<Pipeline> (src_pipeline (server.url (),
          "three", "src"));
  Receiver receiver2 (*viewer2, "src");
  fail_if (viewer2->play () == GST_STATE_CHANGE_FAILURE);

  fail_unless (wait_for ([&] { return receiver1.has_media (1, 1); }),
      "first viewer got nothing");
  fail_unless (wait_for ([&] { return receiver2.has_media (1, 1); }),
      "second viewer got nothing");
  fail_unless_equals_int (count_elements (sender.get ("sink"), "webrtcbin"), 2);
  // Encoded once for every viewer.
  fail_unless_equals_int (count_elements (sender.get ("sink"), "vp8enc"), 1);
  fail_unless_equals_int (count_elements (sender.get ("sink"), "opusenc"), 1);

  viewer2.reset ();
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-peer-left"); }),
      "the sink did not see the viewer leave");
  fail_unless_equals_int (count_elements (sender.get ("sink"), "webrtcbin"), 1);
  // The viewers were connected to each other too: that one is gone as well.
  fail_unless (wait_for ([&] { return viewer1.count ("p2pcall-peer-left"); }));
  guint before = 0;
  for (const Received &r : receiver1.snapshot ())
    before += r.buffers;
  fail_unless (wait_for ([&] {
            guint now = 0;
            for (const Received &r : receiver1.snapshot ())
              now += r.buffers;
            return now > before + 10;
          }), "the first viewer stopped receiving");
}
GST_END_TEST;

// Raw video encoded in @codec arrives decoded at its size.
static void
check_video_codec (const char *codec)
{
  ServerProcess server;
  Pipeline sender ("videotestsrc is-live=true ! video/x-raw,width=320,"
      "height=240,framerate=15/1 ! p2pcallsink name=sink video-codec=" +
      std::string (codec) + " room=codec server=" + server.url ());
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline viewer (src_pipeline (server.url (), "codec"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 0); }),
      "no %s video arrived", codec);
  const Received r = receiver.snapshot ()[0];
  fail_unless_equals_int (r.width, 320);
  fail_unless_equals_int (r.height, 240);
  sender.poll ();
  fail_unless (sender.errors.empty (), "%s", sender.errors.empty () ? "" :
      sender.errors[0].c_str ());
}

GST_START_TEST (test_h264)
{
  check_video_codec ("h264");
}
GST_END_TEST;

GST_START_TEST (test_vp9)
{
  check_video_codec ("vp9");
}
GST_END_TEST;

GST_START_TEST (test_sink_eos)
{
  // A pipeline with a p2pcallsink ends when its inputs do.
  ServerProcess server;
  Pipeline sender ("videotestsrc num-buffers=20 ! p2pcallsink name=sink "
      "room=eos server=" + server.url () + " audiotestsrc num-buffers=20 ! "
      "sink.");
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  GstMessage *msg = gst_bus_timed_pop_filtered (sender.bus_, 20 * GST_SECOND,
      (GstMessageType) (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  fail_unless (msg != nullptr, "no EOS");
  fail_unless_equals_int (GST_MESSAGE_TYPE (msg), GST_MESSAGE_EOS);
  gst_message_unref (msg);
}
GST_END_TEST;

GST_START_TEST (test_server_unreachable)
{
  // Nothing listens on port 9 in a fresh namespace.
  Pipeline sender (sink_pipeline ("ws://127.0.0.1:9/ws", "call"));
  sender.play ();
  fail_unless (wait_for ([&] { sender.poll (); return !sender.errors.empty (); }));
  fail_unless (strstr (sender.errors[0].c_str (), "ws://127.0.0.1:9/ws")
      != nullptr, "error does not name the URL: %s", sender.errors[0].c_str ());
}
GST_END_TEST;

GST_START_TEST (test_bad_room)
{
  Pipeline sender (sink_pipeline ("ws://127.0.0.1:9/ws", "bad/room"));
  fail_unless_equals_int (sender.play (), GST_STATE_CHANGE_FAILURE);
  sender.poll ();
  fail_unless (!sender.errors.empty ());
  fail_unless (strstr (sender.errors[0].c_str (), "'bad/room'") != nullptr,
      "error does not name the room: %s", sender.errors[0].c_str ());
}
GST_END_TEST;

GST_START_TEST (test_server_restart)
{
  auto server = std::make_unique<ServerProcess> ();
  guint port = server->port ();
  std::string url = server->url ();
  Pipeline sender (sink_pipeline (url, "restart"));
  fail_if (sender.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return sender.count ("p2pcall-joined"); }));
  Pipeline viewer (src_pipeline (url, "restart"));
  Receiver receiver (viewer, "src");
  fail_if (viewer.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return receiver.has_media (1, 1); }));

  server.reset ();
  fail_unless (wait_for ([&] {
            return sender.count ("p2pcall-signalling-lost") &&
                viewer.count ("p2pcall-signalling-lost");
          }));
  server = std::make_unique<ServerProcess> (port);
  fail_unless (wait_for ([&] {
            return sender.count ("p2pcall-joined") == 2 &&
                viewer.count ("p2pcall-joined") == 2;
          }), "did not rejoin");

  // Media keeps flowing on the same connection: no new pads, no new peer.
  guint before = 0;
  for (const Received &r : receiver.snapshot ())
    before += r.buffers;
  fail_unless (wait_for ([&] {
            guint now = 0;
            for (const Received &r : receiver.snapshot ())
              now += r.buffers;
            return now > before + 20;
          }));
  // Past the wait for a rejoining peer's clientId.
  g_usleep (1500 * 1000);
  fail_unless_equals_int (receiver.snapshot ().size (), 2);
  fail_unless_equals_int (count_elements (sender.get ("sink"), "webrtcbin"), 1);
  fail_unless_equals_int (sender.count ("p2pcall-peer-joined"), 1);
  fail_unless_equals_int (sender.count ("p2pcall-peer-left"), 0);
  sender.poll ();
  viewer.poll ();
  fail_unless (sender.errors.empty () && viewer.errors.empty ());
}
GST_END_TEST;

static Suite *
p2pcall_suite (void)
{
  Suite *s = suite_create ("p2pcall");
  TCase *tc = tcase_create ("general");
  tcase_set_timeout (tc, 60);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_registration);
  tcase_add_test (tc, test_sink_to_src);
  tcase_add_test (tc, test_three_members);
  tcase_add_test (tc, test_h264);
  tcase_add_test (tc, test_vp9);
  tcase_add_test (tc, test_sink_eos);
  tcase_add_test (tc, test_server_unreachable);
  tcase_add_test (tc, test_bad_room);
  tcase_add_test (tc, test_server_restart);
  return s;
}

GST_CHECK_MAIN (p2pcall);
