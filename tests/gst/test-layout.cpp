// p2pcallsrc as a whole call on two pads (layout=grid), as a URI source for
// players, and recording a call to a file, through the real p2pcall-server.
#include "gst-test-support.h"

#include <gst/app/gstappsink.h>
#include <gst/pbutils/pbutils.h>
#include <gst/video/video.h>

#include <array>

using namespace p2pcall_test;

namespace {

// A member sending one flat colour (videotestsrc patterns 4 red, 6 blue).
std::string
colour_member (const std::string &url, const char *room, const char *pattern)
{
  return std::string ("videotestsrc is-live=true pattern=") + pattern +
      " ! video/x-raw,width=320,height=240,framerate=15/1 ! p2pcallsink "
      "room=" + room + " server=" + url;
}

enum class Colour { kBlack, kRed, kBlue, kOther };

const char *
colour_name (Colour c)
{
  switch (c) {
    case Colour::kBlack: return "black";
    case Colour::kRed: return "red";
    case Colour::kBlue: return "blue";
    default: return "other";
  }
}

// The grid's output frames, read on the test's thread.
class GridWatcher {
public:
  GridWatcher (Pipeline &p, const char *appsink_name)
    : GridWatcher (GST_APP_SINK (p.get (appsink_name)))
  {
  }

  explicit GridWatcher (GstAppSink *sink) : sink_ (sink)
  {
    // Every output buffer, including those appsink drops when we are slow.
    g_autoptr (GstPad) pad = gst_element_get_static_pad (GST_ELEMENT (sink_),
        "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
        +[] (GstPad *, GstPadProbeInfo * info, gpointer data) {
          auto self = static_cast<GridWatcher *> (data);
          GstClockTime pts = GST_BUFFER_PTS (GST_PAD_PROBE_INFO_BUFFER (info));
          std::lock_guard<std::mutex> lock (self->steps_lock_);
          // From the fifth frame on: the mixer may skip one while it starts.
          if (++self->buffers_ > 5 && pts > self->last_pts_)
            self->largest_step_ = std::max (self->largest_step_,
                pts - self->last_pts_);
          self->last_pts_ = pts;
          return GST_PAD_PROBE_OK;
        }, this, nullptr);
  }

  // The largest step between two output timestamps so far.
  GstClockTime largest_step ()
  {
    std::lock_guard<std::mutex> lock (steps_lock_);
    return largest_step_;
  }

  // Pulls what arrived; false when nothing did within @timeout.
  bool pull (GstClockTime timeout = 2 * GST_SECOND)
  {
    g_autoptr (GstSample) sample = gst_app_sink_try_pull_sample (sink_,
        timeout);
    if (!sample)
      return false;
    GstBuffer *buffer = gst_sample_get_buffer (sample);
    GstVideoInfo info;
    fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)));
    width = GST_VIDEO_INFO_WIDTH (&info);
    height = GST_VIDEO_INFO_HEIGHT (&info);
    frames++;
    GstVideoFrame frame;
    fail_unless (gst_video_frame_map (&frame, &info, buffer, GST_MAP_READ));
    yuv_.resize (probes_.size ());
    for (size_t i = 0; i < probes_.size (); i++) {
      const int x = probes_[i].first;
      Colour &colour = probes_[i].second;
      int y = height / 2;
      auto plane = [&] (int comp, int px, int py) {
        const guint8 *data = (const guint8 *) GST_VIDEO_FRAME_COMP_DATA (
            &frame, comp);
        int stride = GST_VIDEO_FRAME_COMP_STRIDE (&frame, comp);
        int sx = comp ? px / 2 : px, sy = comp ? py / 2 : py;
        return (int) data[sy * stride + sx];
      };
      int Y = plane (0, x, y), U = plane (1, x, y), V = plane (2, x, y);
      yuv_[i] = {Y, U, V};
      if (Y < 30 && std::abs (U - 128) < 20 && std::abs (V - 128) < 20)
        colour = Colour::kBlack;
      else if (V > 200 && U < 128)
        colour = Colour::kRed;
      else if (U > 200 && V < 160)
        colour = Colour::kBlue;
      else
        colour = Colour::kOther;
    }
    gst_video_frame_unmap (&frame);
    return true;
  }

  // Watches the colour at column @x of the middle row.
  void watch (std::vector<int> xs)
  {
    probes_.clear ();
    for (int x : xs)
      probes_.push_back ({x, Colour::kOther});
  }

  Colour at (size_t i) const { return probes_[i].second; }

  // Pulls frames until the watched columns show @want, or times out.
  bool wait_for_colours (std::vector<Colour> want, Pipeline &p)
  {
    gint64 until = g_get_monotonic_time () + kWaitUs;
    while (g_get_monotonic_time () < until) {
      p.poll ();
      fail_unless (p.errors.empty (), "%s", p.errors.empty () ? "" :
          p.errors[0].c_str ());
      if (!pull ())
        continue;
      bool all = true;
      for (size_t i = 0; i < want.size (); i++)
        all &= at (i) == want[i];
      if (all)
        return true;
    }
    g_printerr ("%u frames seen\n", frames);
    for (size_t i = 0; i < want.size () && i < yuv_.size (); i++)
      g_printerr ("column %d: %s (Y %d U %d V %d), wanted %s\n",
          probes_[i].first, colour_name (at (i)), yuv_[i][0], yuv_[i][1],
          yuv_[i][2], colour_name (want[i]));
    return false;
  }

  int width = 0, height = 0;
  guint frames = 0;

private:
  GstAppSink *sink_;
  std::mutex steps_lock_;
  GstClockTime last_pts_ = GST_CLOCK_TIME_NONE;
  GstClockTime largest_step_ = 0;
  guint buffers_ = 0;
  std::vector<std::pair<int, Colour>> probes_;
  std::vector<std::array<int, 3>> yuv_;
};

std::string
grid_pipeline (const std::string &url, const char *room)
{
  return "p2pcallsrc name=src layout=grid grid-width=320 grid-height=180 "
      "grid-framerate=15/1 room=" + std::string (room) + " server=" + url +
      " src.video ! appsink name=out sync=false max-buffers=4 drop=true "
      "src.audio ! fakesink name=audio sync=false";
}

}  // namespace

// Before anyone joins the grid already runs: black frames of the configured
// size and frame rate, and audio.
GST_START_TEST (test_grid_before_anyone)
{
  ServerProcess server;
  Pipeline call (grid_pipeline (server.url (), "empty-grid"));
  guint audio_buffers = 0;
  g_autoptr (GstPad) audio_pad = gst_element_get_static_pad (call.get ("audio"),
      "sink");
  gst_pad_add_probe (audio_pad, GST_PAD_PROBE_TYPE_BUFFER,
      +[] (GstPad *, GstPadProbeInfo *, gpointer n) {
        g_atomic_int_inc ((gint *) n);
        return GST_PAD_PROBE_OK;
      }, &audio_buffers, nullptr);
  fail_if (call.play () == GST_STATE_CHANGE_FAILURE);

  GridWatcher grid (call, "out");
  grid.watch ({160});
  fail_unless (grid.wait_for_colours ({Colour::kBlack}, call));
  for (int i = 0; i < 15; i++)
    fail_unless (grid.pull (), "the grid stopped after %u frames", grid.frames);
  fail_unless_equals_int (grid.width, 320);
  fail_unless_equals_int (grid.height, 180);
  // 15 fps: each frame 1/15 s after the one before.
  fail_unless (grid.largest_step () <= GST_SECOND / 15 + GST_MSECOND,
      "frames %" GST_TIME_FORMAT " apart", GST_TIME_ARGS (grid.largest_step ()));
  fail_unless (g_atomic_int_get ((gint *) &audio_buffers) > 0);
  fail_unless_equals_int (call.count ("p2pcall-joined"), 1);
}
GST_END_TEST;

// Members joining and leaving change the grid; the output timeline runs on.
GST_START_TEST (test_grid_layout)
{
  ServerProcess server;
  Pipeline call (grid_pipeline (server.url (), "grid"));
  fail_if (call.play () == GST_STATE_CHANGE_FAILURE);
  GridWatcher grid (call, "out");

  // One member: its 4:3 picture fills the middle of the 16:9 grid.
  auto red = std::make_unique<Pipeline> (colour_member (server.url (), "grid",
          "red"));
  fail_if (red->play () == GST_STATE_CHANGE_FAILURE);
  grid.watch ({20, 160, 300});
  fail_unless (grid.wait_for_colours ({Colour::kBlack, Colour::kRed,
              Colour::kBlack}, call), "one member is not in the middle");

  // Two: side by side, in the order they came.
  Pipeline blue (colour_member (server.url (), "grid", "blue"));
  fail_if (blue.play () == GST_STATE_CHANGE_FAILURE);
  grid.watch ({80, 240});
  fail_unless (grid.wait_for_colours ({Colour::kRed, Colour::kBlue}, call),
      "two members are not side by side");

  // The first leaves: the other has the whole grid.
  red.reset ();
  grid.watch ({20, 160, 300});
  fail_unless (grid.wait_for_colours ({Colour::kBlack, Colour::kBlue,
              Colour::kBlack}, call), "the grid did not close up");
  fail_unless_equals_int (grid.width, 320);
  fail_unless_equals_int (grid.height, 180);
  fail_unless (grid.largest_step () <= GST_SECOND / 15 + GST_MSECOND,
      "a gap of %" GST_TIME_FORMAT " in the output",
      GST_TIME_ARGS (grid.largest_step ()));
  fail_unless (call.errors.empty ());
}
GST_END_TEST;

// p2pcall:// URIs make a p2pcallsrc set up for the room; bad ones are
// refused with the URI in the message.
GST_START_TEST (test_uri_handler)
{
  g_autoptr (GError) err = nullptr;
  GstElement *src = gst_element_make_from_uri (GST_URI_SRC,
      "p2pcall://127.0.0.1:9/my-room?peer-name=Ann%20B&token=abc", nullptr,
      &err);
  fail_unless (src != nullptr, "%s", err ? err->message : "?");
  fail_unless_equals_string (GST_OBJECT_NAME (gst_element_get_factory (src)),
      "p2pcallsrc");
  g_autofree char *server = nullptr, *room = nullptr, *name = nullptr,
      *token = nullptr;
  g_object_get (src, "server", &server, "room", &room, "peer-name", &name,
      "token", &token, nullptr);
  fail_unless_equals_string (server, "ws://127.0.0.1:9/ws");
  fail_unless_equals_string (room, "my-room");
  fail_unless_equals_string (name, "Ann B");
  fail_unless_equals_string (token, "abc");
  g_autoptr (GstPad) video = gst_element_get_static_pad (src, "video");
  fail_unless (video != nullptr, "a URI source has the grid's video pad");
  gst_object_unref (src);

  src = gst_element_make_from_uri (GST_URI_SRC, "p2pcalls://calls.example/r1",
      nullptr, nullptr);
  fail_unless (src != nullptr);
  g_free (server);
  g_object_get (src, "server", &server, nullptr);
  fail_unless_equals_string (server, "wss://calls.example:8080/ws");
  g_autofree char *uri = gst_uri_handler_get_uri (GST_URI_HANDLER (src));
  fail_unless_equals_string (uri, "p2pcalls://calls.example:8080/r1");

  for (const char *bad : {"p2pcall://127.0.0.1:9/no%20spaces",
          "p2pcall://127.0.0.1:9/", "p2pcall://127.0.0.1:9/r?colour=red"}) {
    g_clear_error (&err);
    fail_if (gst_uri_handler_set_uri (GST_URI_HANDLER (src), bad, &err), bad);
    fail_unless (err && strstr (err->message, bad), "%s: %s", bad,
        err ? err->message : "no error");
  }
  gst_object_unref (src);
}
GST_END_TEST;

// playbin3 plays a room from its URI.
GST_START_TEST (test_playbin_uri)
{
  ServerProcess server;
  Pipeline member (colour_member (server.url (), "played", "red"));
  fail_if (member.play () == GST_STATE_CHANGE_FAILURE);
  std::string uri = "p2pcall://127.0.0.1:" + std::to_string (server.port ()) +
      "/played";
  Pipeline player ("playbin3 uri=" + uri + " video-sink=\"appsink name=out "
      "sync=false max-buffers=4 drop=true\" audio-sink=\"fakesink sync=false\"");
  fail_if (player.play () == GST_STATE_CHANGE_FAILURE);
  GstElement *out = nullptr;
  g_object_get (player.pipeline_, "video-sink", &out, nullptr);
  fail_unless (out != nullptr);
  gst_object_unref (out);
  // A URI source is a grid (1280 wide): the one member in its middle.
  GridWatcher grid (GST_APP_SINK (out));
  grid.watch ({640});
  fail_unless (grid.wait_for_colours ({Colour::kRed}, player),
      "playbin3 never showed the member's red picture");
}
GST_END_TEST;

// Recording is a pipeline: the file plays back, as long as the recording ran.
GST_START_TEST (test_recording)
{
  ServerProcess server;
  Pipeline member (colour_member (server.url (), "recorded", "red"));
  fail_if (member.play () == GST_STATE_CHANGE_FAILURE);
  g_autofree char *dir = g_dir_make_tmp ("p2pcall-rec-XXXXXX", nullptr);
  g_autofree char *path = g_build_filename (dir, "call.mkv", nullptr);
  Pipeline rec ("p2pcallsrc name=src layout=grid grid-width=320 "
      "grid-height=180 room=recorded server=" + server.url () +
      " src.video ! videoconvert ! vp8enc deadline=1 ! queue ! mux. "
      "src.audio ! audioconvert ! opusenc ! queue ! mux. "
      "matroskamux name=mux ! filesink location=" + std::string (path));
  fail_if (rec.play () == GST_STATE_CHANGE_FAILURE);
  fail_unless (wait_for ([&] { return rec.count ("p2pcall-peer-joined") > 0; }));
  // Record three seconds of the pipeline's own clock.
  GstClock *clock = gst_pipeline_get_clock (GST_PIPELINE (rec.pipeline_));
  GstClockTime started = gst_clock_get_time (clock);
  wait_for ([&] { return false; }, 3 * G_USEC_PER_SEC);
  GstClockTime recorded = gst_clock_get_time (clock) - started;
  gst_object_unref (clock);
  gst_element_send_event (rec.pipeline_, gst_event_new_eos ());
  g_autoptr (GstMessage) eos = gst_bus_timed_pop_filtered (rec.bus_,
      10 * GST_SECOND, (GstMessageType) (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  fail_unless (eos && GST_MESSAGE_TYPE (eos) == GST_MESSAGE_EOS,
      "the recording did not finish");
  gst_element_set_state (rec.pipeline_, GST_STATE_NULL);

  g_autofree char *uri = gst_filename_to_uri (path, nullptr);
  g_autoptr (GstDiscoverer) disc = gst_discoverer_new (10 * GST_SECOND, nullptr);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GstDiscovererInfo) info = gst_discoverer_discover_uri (disc, uri,
      &err);
  fail_unless (info != nullptr, "%s", err ? err->message : "?");
  fail_unless_equals_int (gst_discoverer_info_get_result (info),
      GST_DISCOVERER_OK);
  GstClockTime duration = gst_discoverer_info_get_duration (info);
  // From PLAYING (before the join) to EOS: at least the three seconds.
  fail_unless (duration >= recorded && duration < recorded + 5 * GST_SECOND,
      "the file lasts %" GST_TIME_FORMAT " for %" GST_TIME_FORMAT " recorded",
      GST_TIME_ARGS (duration), GST_TIME_ARGS (recorded));
  GList *videos = gst_discoverer_info_get_video_streams (info);
  fail_unless (videos != nullptr);
  auto video = GST_DISCOVERER_VIDEO_INFO (videos->data);
  fail_unless_equals_int (gst_discoverer_video_info_get_width (video), 320);
  fail_unless_equals_int (gst_discoverer_video_info_get_height (video), 180);
  gst_discoverer_stream_info_list_free (videos);
  GList *audios = gst_discoverer_info_get_audio_streams (info);
  fail_unless (audios != nullptr);
  gst_discoverer_stream_info_list_free (audios);

  // And it decodes: every frame of the file comes out.
  Pipeline play ("filesrc location=" + std::string (path) +
      " ! matroskademux ! vp8dec ! fakesink name=out sync=false");
  guint frames = 0;
  g_autoptr (GstPad) pad = gst_element_get_static_pad (play.get ("out"),
      "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER,
      +[] (GstPad *, GstPadProbeInfo *, gpointer n) {
        (*(guint *) n)++;
        return GST_PAD_PROBE_OK;
      }, &frames, nullptr);
  play.play ();
  g_autoptr (GstMessage) done = gst_bus_timed_pop_filtered (play.bus_,
      10 * GST_SECOND, (GstMessageType) (GST_MESSAGE_EOS | GST_MESSAGE_ERROR));
  fail_unless (done && GST_MESSAGE_TYPE (done) == GST_MESSAGE_EOS);
  // 30 fps grid for the length of the file, give or take a frame each end.
  guint expected = (guint) (duration * 30 / GST_SECOND);
  fail_unless (frames + 3 >= expected, "%u frames decoded of %u", frames,
      expected);
  g_unlink (path);
  g_rmdir (dir);
}
GST_END_TEST;

static Suite *
p2pcall_layout_suite (void)
{
  Suite *s = suite_create ("p2pcall-layout");
  TCase *tc = tcase_create ("layout");
  tcase_set_timeout (tc, 60);
  tcase_add_checked_fixture (tc, nullptr, join_streaming_threads);
  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_grid_before_anyone);
  tcase_add_test (tc, test_grid_layout);
  tcase_add_test (tc, test_uri_handler);
  tcase_add_test (tc, test_playbin_uri);
  tcase_add_test (tc, test_recording);
  return s;
}

GST_CHECK_MAIN (p2pcall_layout);
