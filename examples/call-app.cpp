// Embedding p2pcall in a C++ application: send a camera (a test pattern
// here) into a room, follow who joins and leaves from the bus, and print
// each peer's statistics once a second.
//
//   p2pcall-call-app --server ws://127.0.0.1:8080/ws --room myroom
//
// Lines on stdout: "joined ROOM as ID", "peer-joined ID", "peer-left ID",
// "stats ID state=STATE bitrate=BPS rtt=SECONDS". Ctrl-C leaves the room.
#include <gst/gst.h>
#include <glib-unix.h>

#include <cstdio>
#include <memory>
#include <string>

namespace {

struct App {
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *call = nullptr;   // the p2pcallsink
  int exit_code = 0;
};

gboolean
on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto app = static_cast<App *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR: {
      g_autoptr (GError) err = nullptr;
      g_autofree char *debug = nullptr;
      gst_message_parse_error (msg, &err, &debug);
      g_printerr ("error from %s: %s\n", GST_OBJECT_NAME (msg->src),
          err->message);
      app->exit_code = 1;
      g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_ELEMENT: {
      const GstStructure *s = gst_message_get_structure (msg);
      if (gst_structure_has_name (s, "p2pcall-joined"))
        g_print ("joined %s as %s\n", gst_structure_get_string (s, "room-id"),
            gst_structure_get_string (s, "peer-id"));
      else if (gst_structure_has_name (s, "p2pcall-peer-joined"))
        g_print ("peer-joined %s\n", gst_structure_get_string (s, "peer-id"));
      else if (gst_structure_has_name (s, "p2pcall-peer-left"))
        g_print ("peer-left %s\n", gst_structure_get_string (s, "peer-id"));
      break;
    }
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

gboolean
print_stats (gpointer data)
{
  auto app = static_cast<App *> (data);
  GstStructure *stats = nullptr;
  g_object_get (app->call, "stats", &stats, nullptr);
  for (int i = 0; stats && i < gst_structure_n_fields (stats); i++) {
    const GstStructure *peer = gst_value_get_structure (
        gst_structure_get_value (stats, gst_structure_nth_field_name (stats,
                i)));
    guint64 bitrate = 0;
    double rtt = -1;
    gst_structure_get_uint64 (peer, "bitrate", &bitrate);
    gst_structure_get_double (peer, "round-trip-time", &rtt);
    g_print ("stats %s state=%s bitrate=%" G_GUINT64_FORMAT " rtt=%.3f\n",
        gst_structure_get_string (peer, "peer-id"),
        gst_structure_get_string (peer, "state"), bitrate, rtt);
  }
  if (stats)
    gst_structure_free (stats);
  return G_SOURCE_CONTINUE;
}

gboolean
on_interrupt (gpointer data)
{
  g_main_loop_quit (static_cast<App *> (data)->loop);
  return G_SOURCE_REMOVE;
}

}  // namespace

int
main (int argc, char **argv)
{
  g_autofree char *server = g_strdup ("ws://127.0.0.1:8080/ws");
  g_autofree char *room = nullptr;
  g_autofree char *name = g_strdup ("C++ example");
  GOptionEntry entries[] = {
    {"server", 0, 0, G_OPTION_ARG_STRING, &server, "Signalling server",
        "URL"},
    {"room", 0, 0, G_OPTION_ARG_STRING, &room, "Room to join", "ROOM"},
    {"name", 0, 0, G_OPTION_ARG_STRING, &name, "Name shown to the others",
        "NAME"},
    {nullptr}
  };
  g_autoptr (GOptionContext) context = g_option_context_new (
      "- send a test pattern into a p2pcall room");
  g_option_context_add_main_entries (context, entries, nullptr);
  g_option_context_add_group (context, gst_init_get_option_group ());
  g_autoptr (GError) err = nullptr;
  if (!g_option_context_parse (context, &argc, &argv, &err) || !room) {
    g_printerr ("%s\n", err ? err->message : "--room is required");
    return 2;
  }

  App app;
  app.pipeline = gst_pipeline_new ("call-app");
  GstElement *camera = gst_element_factory_make ("videotestsrc", nullptr);
  GstElement *caps = gst_element_factory_make ("capsfilter", nullptr);
  app.call = gst_element_factory_make ("p2pcallsink", "call");
  if (!camera || !caps || !app.call) {
    g_printerr ("missing elements: is the p2pcall plugin in GST_PLUGIN_PATH?\n");
    return 1;
  }
  g_object_set (camera, "is-live", TRUE, nullptr);
  g_autoptr (GstCaps) format = gst_caps_from_string (
      "video/x-raw,width=640,height=480,framerate=30/1");
  g_object_set (caps, "caps", format, nullptr);
  g_object_set (app.call, "server", server, "room", room, "peer-name", name,
      nullptr);
  gst_bin_add_many (GST_BIN (app.pipeline), camera, caps, app.call, nullptr);
  gst_element_link_many (camera, caps, app.call, nullptr);

  app.loop = g_main_loop_new (nullptr, FALSE);
  g_autoptr (GstBus) bus = gst_pipeline_get_bus (GST_PIPELINE (app.pipeline));
  gst_bus_add_watch (bus, on_bus_message, &app);
  g_timeout_add_seconds (1, print_stats, &app);
  g_unix_signal_add (SIGINT, on_interrupt, &app);
  g_unix_signal_add (SIGTERM, on_interrupt, &app);

  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) ==
      GST_STATE_CHANGE_FAILURE) {
    g_printerr ("could not start the pipeline\n");
    app.exit_code = 1;
  } else {
    g_main_loop_run (app.loop);
  }
  // NULL leaves the room: the others see us go at once.
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  return app.exit_code;
}
