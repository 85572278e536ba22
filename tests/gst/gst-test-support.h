// What the gst-check tests of p2pcallsink / p2pcallsrc share: the server
// binary as a child process, pipelines whose bus is polled from the test's
// thread, and a receiver that counts what arrives on a p2pcallsrc's pads.
#pragma once

#include <gst/check/gstcheck.h>
#include <gio/gio.h>
#include <glib/gstdio.h>

#include <sys/prctl.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace p2pcall_test {

inline constexpr gint64 kWaitUs = 20 * G_USEC_PER_SEC;

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
// @extra options are appended (TLS, TURN, keep-alive).
class ServerProcess {
public:
  explicit ServerProcess (guint port = 0,
      const std::vector<std::string> &extra = {})
  {
    std::string port_text = std::to_string (port);
    std::vector<const char *> argv = { g_getenv ("P2PCALL_SERVER"),
      "--address", "127.0.0.1", "--port", port_text.c_str (), "--ice-server",
      "none", "--web-root", web_root_.path () };
    for (const std::string &e : extra)
      argv.push_back (e.c_str ());
    argv.push_back (nullptr);
    g_autoptr (GError) err = nullptr;
    g_autoptr (GSubprocessLauncher) launcher =
        g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE);
    g_subprocess_launcher_set_child_setup (launcher, +[] (gpointer) {
          prctl (PR_SET_PDEATHSIG, SIGTERM);
        }, nullptr, nullptr);
    proc_ = g_subprocess_launcher_spawnv (launcher, argv.data (), &err);
    fail_unless (proc_ != nullptr, "cannot start %s", argv[0]);
    g_autoptr (GDataInputStream) out = g_data_input_stream_new (
        g_subprocess_get_stdout_pipe (proc_));
    g_autofree char *line = g_data_input_stream_read_line (out, nullptr,
        nullptr, &err);
    fail_unless (line != nullptr, "server printed nothing");
    const char *url = strstr (line, "://");
    fail_unless (url != nullptr, "unexpected line '%s'", line);
    tls_ = url - line >= 5 && g_str_has_prefix (url - 5, "https");
    port_ = (guint) atoi (strrchr (url, ':') + 1);
    fail_unless (port_ > 0);
  }

  ~ServerProcess ()
  {
    g_subprocess_send_signal (proc_, SIGTERM);
    g_subprocess_wait (proc_, nullptr, nullptr);
    g_object_unref (proc_);
  }

  // Kills the server with no chance to close its connections: a crash.
  void kill_hard ()
  {
    g_subprocess_send_signal (proc_, SIGKILL);
    g_subprocess_wait (proc_, nullptr, nullptr);
  }

  guint port () const { return port_; }

  // A number from the server's /healthz ("members", "connections", "rooms").
  int health (const char *field) const
  {
    g_autoptr (GSocketClient) client = g_socket_client_new ();
    g_autoptr (GSocketConnection) conn = g_socket_client_connect_to_host (
        client, "127.0.0.1", port_, nullptr, nullptr);
    if (!conn || tls_)
      return -1;
    const char request[] = "GET /healthz HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (conn));
    g_output_stream_write_all (out, request, strlen (request), nullptr,
        nullptr, nullptr);
    GInputStream *in = g_io_stream_get_input_stream (G_IO_STREAM (conn));
    std::string response;
    char buf[1024];
    gssize n;
    while ((n = g_input_stream_read (in, buf, sizeof buf, nullptr,
                nullptr)) > 0)
      response.append (buf, n);
    std::string key = std::string ("\"") + field + "\":";
    size_t at = response.find (key);
    return at == std::string::npos ? -1 : atoi (response.c_str () + at +
        key.size ());
  }
  std::string url () const
  {
    return std::string (tls_ ? "wss" : "ws") + "://127.0.0.1:" +
        std::to_string (port_) + "/ws";
  }

private:
  WebRoot web_root_;
  GSubprocess *proc_ = nullptr;
  guint port_ = 0;
  bool tls_ = false;
};

// Starts a child that dies with the test, even when an assertion aborts it.
inline GSubprocess *
spawn_child (const std::vector<std::string> &args, GSubprocessFlags flags)
{
  std::vector<const char *> argv;
  for (const std::string &a : args)
    argv.push_back (a.c_str ());
  argv.push_back (nullptr);
  g_autoptr (GSubprocessLauncher) launcher = g_subprocess_launcher_new (flags);
  g_subprocess_launcher_set_child_setup (launcher, +[] (gpointer) {
        prctl (PR_SET_PDEATHSIG, SIGKILL);
      }, nullptr, nullptr);
  g_autoptr (GError) err = nullptr;
  GSubprocess *proc = g_subprocess_launcher_spawnv (launcher, argv.data (),
      &err);
  fail_unless (proc != nullptr, "cannot start %s: %s", argv[0],
      err ? err->message : "?");
  return proc;
}

// A gst-launch-1.0 process, another member of the call. With -v in
// @description, output() has what it printed (the caps of its pads).
class MemberProcess {
public:
  explicit MemberProcess (const std::string &description)
  {
    g_auto (GStrv) args = nullptr;
    fail_unless (g_shell_parse_argv (description.c_str (), nullptr, &args,
            nullptr));
    std::vector<std::string> argv = {"gst-launch-1.0"};
    for (char **a = args; *a; a++)
      argv.push_back (*a);
    proc_ = spawn_child (argv, G_SUBPROCESS_FLAGS_STDOUT_PIPE);
  }

  ~MemberProcess ()
  {
    g_subprocess_send_signal (proc_, SIGCONT);
    g_subprocess_send_signal (proc_, SIGKILL);
    g_subprocess_wait (proc_, nullptr, nullptr);
    g_object_unref (proc_);
  }

  void send_signal (int signum) { g_subprocess_send_signal (proc_, signum); }

  // Everything printed so far; reading also keeps the pipe from filling.
  const std::string &output ()
  {
    auto in = G_POLLABLE_INPUT_STREAM (g_subprocess_get_stdout_pipe (proc_));
    char buf[4096];
    gssize n;
    while ((n = g_pollable_input_stream_read_nonblocking (in, buf,
                sizeof buf, nullptr, nullptr)) > 0)
      output_.append (buf, n);
    return output_;
  }

private:
  GSubprocess *proc_ = nullptr;
  std::string output_;
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
    for (GstStructure *s : elements)
      gst_structure_free (s);
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

  // Drains the bus; keeps element messages, errors and warnings.
  void poll ()
  {
    while (GstMessage *msg = gst_bus_pop (bus_)) {
      if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
        g_autoptr (GError) err = nullptr;
        g_autofree char *dbg = nullptr;
        gst_message_parse_error (msg, &err, &dbg);
        g_autofree char *path = gst_object_get_path_string (msg->src);
        g_printerr ("error from %s: %s (%s)\n", path, err->message,
            GST_STR_NULL (dbg));
        errors.push_back (err->message);
      } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
        g_autoptr (GError) err = nullptr;
        g_autofree char *dbg = nullptr;
        gst_message_parse_warning (msg, &err, &dbg);
        warnings.push_back (err->message);
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
  std::vector<std::string> warnings;
  std::vector<GstStructure *> elements;
};

// Links every output of a p2pcallsrc to a fakesink and records what passes.
class Receiver {
public:
  Receiver (Pipeline &p, const char *src_name)
    : pipeline_ (GST_ELEMENT (gst_object_ref (p.pipeline_)))
  {
    GstElement *src = p.get (src_name);
    g_signal_connect (src, "pad-added", G_CALLBACK (on_pad_added), this);
  }

  // Declared after its Pipeline, a Receiver goes first: the pipeline stops
  // here so that no streaming thread reaches the probes afterwards.
  ~Receiver ()
  {
    gst_element_set_state (pipeline_, GST_STATE_NULL);
    gst_object_unref (pipeline_);
  }

  std::vector<Received> snapshot ()
  {
    std::lock_guard<std::mutex> lock (lock_);
    return outputs_;
  }

  // Buffers seen so far on every output (video only with @video_only).
  guint buffers (bool video_only = false)
  {
    guint n = 0;
    for (const Received &r : snapshot ())
      n += video_only && r.audio ? 0 : r.buffers;
    return n;
  }

  // True once @more buffers than now have arrived (video only with
  // @video_only), waiting as wait_for() does.
  bool keeps_receiving (guint more, bool video_only = false)
  {
    guint before = buffers (video_only);
    return wait_for ([&] { return buffers (video_only) > before + more; });
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
    gst_bin_add (GST_BIN (self->pipeline_), sink);
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

  GstElement *pipeline_;
  std::mutex lock_;
  std::vector<Received> outputs_;
};

inline std::string
sink_pipeline (const std::string &url, const char *room)
{
  return "videotestsrc is-live=true ! video/x-raw,width=320,height=240,"
      "framerate=15/1 ! p2pcallsink name=sink room=" + std::string (room) +
      " server=" + url + " audiotestsrc is-live=true ! sink.";
}

inline std::string
src_pipeline (const std::string &url, const char *room, const char *name =
    "src")
{
  return "p2pcallsrc layout=separate name=" + std::string (name) + " room=" + room +
      " server=" + url;
}

// The two parts of member @name in the shared-member tests; @common is
// " room=ROOM server=URL". Sending: a @width x @height test picture.
inline std::string
member_sending (const std::string &name, int width, int height,
    const std::string &common)
{
  return "videotestsrc is-live=true ! video/x-raw,width=" +
      std::to_string (width) + ",height=" + std::to_string (height) +
      ",framerate=15/1 ! p2pcallsink name=sink peer-name=" + name + common;
}

inline std::string
member_receiving (const std::string &name, const std::string &common)
{
  return "p2pcallsrc name=src layout=separate peer-name=" + name + common;
}

// Fails the test with the first error any of @pipelines posted.
inline void
assert_no_errors (std::initializer_list<Pipeline *> pipelines)
{
  for (Pipeline *p : pipelines) {
    p->poll ();
    fail_unless (p->errors.empty (), "%s", p->errors.empty () ? "" :
        p->errors[0].c_str ());
  }
}

// Checked fixture teardown: joins GStreamer's pooled streaming threads
// before the test process exits. Left running, one may exit after OpenSSL's
// atexit cleanup and crash in OpenSSL's thread-local destructor (dtlsenc and
// srtpenc use OpenSSL on those threads), which fails a test that passed.
// Threads that are no GstTask (libnice's, GLib's pools) can still be
// exiting then (seen about once in 15 loaded runs of the member tests), so
// a forked test, which has passed once here, leaves without the atexit
// handlers, as check's child would with exit (EXIT_SUCCESS) otherwise.
inline void
join_streaming_threads ()
{
  gst_task_cleanup_all ();
  if (g_strcmp0 (g_getenv ("CK_FORK"), "no") != 0) {
    fflush (nullptr);
    _exit (EXIT_SUCCESS);
  }
}

// The peers a p2pcallsink / p2pcallsrc has a connection with, from its
// stats; calls @fn with each peer's statistics.
template <typename F>
guint
for_each_peer (GstElement *element, F fn)
{
  GstStructure *stats = nullptr;
  g_object_get (element, "stats", &stats, nullptr);
  guint n = stats ? gst_structure_n_fields (stats) : 0;
  for (guint i = 0; i < n; i++)
    fn (gst_value_get_structure (gst_structure_get_value (stats,
                gst_structure_nth_field_name (stats, i))));
  if (stats)
    gst_structure_free (stats);
  return n;
}

inline guint
peer_count (GstElement *element)
{
  return for_each_peer (element, [] (const GstStructure *) {});
}

inline guint
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

}  // namespace p2pcall_test

using namespace p2pcall_test;
