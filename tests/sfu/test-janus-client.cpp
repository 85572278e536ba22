// JanusClient against real Janus instances (Debian `janus`), started by
// tests/janus-run.py in this test's network namespace from the sample
// configuration in server/janus/: the session, VideoRoom rooms made and
// destroyed through the API, refusals told as errors that name the
// instance, and an instance that dies noticed.
#include "janus_client.h"

#include <glib.h>

#include <csignal>
#include <string>
#include <vector>

using namespace p2pcall::server;

namespace {

constexpr guint kWaitSeconds = 15;

std::vector<std::string>
split_env (const char *name)
{
  const char *value = g_getenv (name);
  g_assert_nonnull (value);
  g_auto (GStrv) parts = g_strsplit (value, ",", -1);
  return std::vector<std::string> (parts, parts + g_strv_length (parts));
}

std::string
api_secret ()
{
  return g_getenv ("P2PCALL_JANUS_API_SECRET");
}

// Runs the default main context until @done is true (or fails the test).
template <typename Done>
void
iterate_until (Done done)
{
  gint64 deadline = g_get_monotonic_time () + kWaitSeconds * G_USEC_PER_SEC;
  while (!done ()) {
    g_assert_cmpint (g_get_monotonic_time (), <, deadline);
    g_main_context_iteration (nullptr, TRUE);
  }
}

// Keeps the default context turning with a wake-up, so iterate_until sees
// its deadline even when nothing arrives.
guint
start_ticker ()
{
  return g_timeout_add (100, [] (gpointer) -> gboolean { return G_SOURCE_CONTINUE; },
      nullptr);
}

struct Session {
  bool up = false;
  bool down = false;
  std::string down_reason;
  std::unique_ptr<JanusClient> client;

  Session (const std::string & url, const std::string & secret)
  {
    JanusEvents events;
    events.state = [this] (bool is_up, const GError * error) {
      up = is_up;
      if (!is_up) {
        down = true;
        down_reason = error ? error->message : "";
      }
    };
    client = std::make_unique<JanusClient> (JanusClientOptions {url, secret},
        std::move (events));
    client->connect ();
    iterate_until ([this] { return up || down; });
  }

  guint64 attach_videoroom ()
  {
    guint64 handle = 0;
    bool done = false;
    client->attach ("janus.plugin.videoroom", [&] (guint64 h, const GError * error) {
          g_assert_no_error (error);
          handle = h;
          done = true;
        });
    iterate_until ([&] { return done; });
    g_assert_cmpuint (handle, !=, 0);
    return handle;
  }

  // A VideoRoom request; returns the plugin's data (a copy) or the error.
  JsonObject *request (guint64 handle, const char *json, GError ** error_out)
  {
    g_autoptr (JsonParser) parser = json_parser_new ();
    g_assert_true (json_parser_load_from_data (parser, json, -1, nullptr));
    JsonObject *result = nullptr;
    bool done = false;
    client->message (handle, json_node_get_object (json_parser_get_root (parser)),
        nullptr, [&] (JsonObject * data, JsonObject *, const GError * error) {
          if (error)
            *error_out = g_error_copy (error);
          else
            result = json_object_ref (data);
          done = true;
        });
    iterate_until ([&] { return done; });
    return result;
  }
};

bool
room_exists (Session & s, guint64 handle, guint64 room)
{
  g_autofree char *json = g_strdup_printf (
      "{\"request\":\"exists\",\"room\":%" G_GUINT64_FORMAT "}", room);
  g_autoptr (GError) error = nullptr;
  g_autoptr (JsonObject) data = s.request (handle, json, &error);
  g_assert_no_error (error);
  return json_object_get_boolean_member (data, "exists");
}

void
test_videoroom_rooms_made_and_destroyed ()
{
  guint ticker = start_ticker ();
  Session s (split_env ("P2PCALL_JANUS_URLS")[0], api_secret ());
  g_assert_true (s.up);
  g_assert_true (s.client->is_up ());
  guint64 handle = s.attach_videoroom ();

  g_assert_false (room_exists (s, handle, 4242));
  g_autoptr (GError) error = nullptr;
  g_autoptr (JsonObject) created = s.request (handle,
      "{\"request\":\"create\",\"room\":4242,\"publishers\":50,"
      "\"videocodec\":\"vp8\",\"audiocodec\":\"opus\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (created, "videoroom"), ==,
      "created");
  g_assert_cmpint (json_object_get_int_member (created, "room"), ==, 4242);
  g_assert_true (room_exists (s, handle, 4242));

  // A second create of the same room is the plugin's refusal, told with
  // Janus's reason and the instance's URL.
  g_autoptr (JsonObject) again = s.request (handle,
      "{\"request\":\"create\",\"room\":4242}", &error);
  g_assert_null (again);
  g_assert_error (error, P2PCALL_JANUS_ERROR, (int) JanusError::kPlugin);
  g_assert_nonnull (strstr (error->message, s.client->url ().c_str ()));
  g_assert_nonnull (strstr (error->message, "already exists"));
  g_clear_error (&error);

  g_autoptr (JsonObject) destroyed = s.request (handle,
      "{\"request\":\"destroy\",\"room\":4242}", &error);
  g_assert_no_error (error);
  g_assert_false (room_exists (s, handle, 4242));
  s.client->detach (handle);
  g_source_remove (ticker);
}

// An asynchronous VideoRoom request (join) is answered by the event of its
// transaction, not by Janus's ack.
void
test_asynchronous_request_answered_by_its_event ()
{
  guint ticker = start_ticker ();
  Session s (split_env ("P2PCALL_JANUS_URLS")[0], api_secret ());
  guint64 handle = s.attach_videoroom ();
  g_autoptr (GError) error = nullptr;
  g_autoptr (JsonObject) created = s.request (handle,
      "{\"request\":\"create\",\"room\":777}", &error);
  g_assert_no_error (error);
  g_autoptr (JsonObject) joined = s.request (handle,
      "{\"request\":\"join\",\"ptype\":\"publisher\",\"room\":777,"
      "\"display\":\"alice\"}", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (joined, "videoroom"), ==,
      "joined");
  g_assert_cmpint (json_object_get_int_member (joined, "room"), ==, 777);
  g_assert_cmpint (json_object_get_int_member (joined, "id"), >, 0);

  // Joining a room that does not exist: the plugin's error, in the event.
  guint64 other = s.attach_videoroom ();
  g_autoptr (JsonObject) refused = s.request (other,
      "{\"request\":\"join\",\"ptype\":\"publisher\",\"room\":778}", &error);
  g_assert_null (refused);
  g_assert_error (error, P2PCALL_JANUS_ERROR, (int) JanusError::kPlugin);
  g_assert_nonnull (strstr (error->message, "778"));
  g_source_remove (ticker);
}

void
test_wrong_api_secret_is_refused ()
{
  guint ticker = start_ticker ();
  Session s (split_env ("P2PCALL_JANUS_URLS")[0], "not-the-secret");
  g_assert_false (s.up);
  g_assert_true (s.down);
  g_assert_nonnull (strstr (s.down_reason.c_str (), "Unauthorized"));
  g_assert_nonnull (strstr (s.down_reason.c_str (),
          split_env ("P2PCALL_JANUS_URLS")[0].c_str ()));
  g_source_remove (ticker);
}

void
test_unreachable_instance_is_named ()
{
  guint ticker = start_ticker ();
  // A port nothing listens on, in this namespace.
  Session s ("ws://127.0.0.1:9", api_secret ());
  g_assert_true (s.down);
  g_assert_nonnull (strstr (s.down_reason.c_str (), "ws://127.0.0.1:9"));
  Session bad ("http//no-scheme", api_secret ());
  g_assert_true (bad.down);
  g_assert_nonnull (strstr (bad.down_reason.c_str (), "http//no-scheme"));
  g_source_remove (ticker);
}

// The second instance is killed: its client says it went down, open
// requests fail, and connecting again fails with the URL named. The first
// instance is untouched.
void
test_instance_killed_is_noticed ()
{
  guint ticker = start_ticker ();
  auto urls = split_env ("P2PCALL_JANUS_URLS");
  auto pids = split_env ("P2PCALL_JANUS_PIDS");
  g_assert_cmpuint (urls.size (), ==, 2);
  Session first (urls[0], api_secret ());
  Session second (urls[1], api_secret ());
  g_assert_true (first.up);
  g_assert_true (second.up);
  guint64 handle = second.attach_videoroom ();

  kill ((pid_t) g_ascii_strtoll (pids[1].c_str (), nullptr, 10), SIGKILL);
  iterate_until ([&] { return second.down; });
  g_assert_false (second.client->is_up ());
  g_assert_nonnull (strstr (second.down_reason.c_str (), urls[1].c_str ()));

  g_autoptr (GError) error = nullptr;
  g_autoptr (JsonObject) none = second.request (handle,
      "{\"request\":\"list\"}", &error);
  g_assert_error (error, P2PCALL_JANUS_ERROR, (int) JanusError::kGone);
  g_clear_error (&error);

  second.down = false;
  second.client->connect ();
  iterate_until ([&] { return second.down; });
  g_assert_false (second.up);

  guint64 still = first.attach_videoroom ();
  g_autoptr (JsonObject) listed = first.request (still,
      "{\"request\":\"list\"}", &error);
  g_assert_no_error (error);
  g_assert_true (first.client->is_up ());
  g_source_remove (ticker);
}

}  // namespace

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, nullptr);
  g_test_add_func ("/janus/videoroom-rooms", test_videoroom_rooms_made_and_destroyed);
  g_test_add_func ("/janus/async-request", test_asynchronous_request_answered_by_its_event);
  g_test_add_func ("/janus/wrong-api-secret", test_wrong_api_secret_is_refused);
  g_test_add_func ("/janus/unreachable", test_unreachable_instance_is_named);
  // Last: it kills the second instance.
  g_test_add_func ("/janus/instance-killed", test_instance_killed_is_noticed);
  return g_test_run ();
}
