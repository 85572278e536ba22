#include "janus_client.h"

#include <libsoup/soup.h>

#include <map>

namespace p2pcall::server {

G_DEFINE_QUARK (p2pcall-janus-error-quark, janus_error)

namespace {

GError *
janus_error (JanusError code, const std::string & url, const char *what)
{
  return g_error_new (P2PCALL_JANUS_ERROR, (int) code, "Janus at %s: %s",
      url.c_str (), what);
}

// Janus's error answers: {"janus":"error","error":{"code":N,"reason":"..."}};
// a plugin's: {"error_code":N,"error":"..."} inside its data.
std::string
reason_of (JsonObject * error_object, const char *reason_member)
{
  const char *reason = json_object_get_string_member_with_default (
      error_object, reason_member, "no reason given");
  gint64 code = json_object_get_int_member_with_default (error_object,
      json_object_has_member (error_object, "code") ? "code" : "error_code", 0);
  return std::string (reason) + " (" + std::to_string (code) + ")";
}

}  // namespace

JsonObject *
janus_object_member (JsonObject * object, const char *name)
{
  if (!object || !json_object_has_member (object, name))
    return nullptr;
  JsonNode *node = json_object_get_member (object, name);
  return JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : nullptr;
}

struct JanusClient::Impl {
  // What an open transaction waits for.
  struct Pending {
    JanusReply reply;
    // A keep-alive or trickle is done when Janus acknowledges it. A plugin
    // message is not: Janus acknowledges an asynchronous one (VideoRoom's
    // join, configure, start) at once and answers it later with an "event"
    // of the same transaction, and answers a synchronous one (create,
    // exists, destroy) with "success" straight away.
    bool done_on_ack;
  };

  JanusClientOptions options;
  JanusEvents events;
  GMainContext *context = g_main_context_ref_thread_default ();
  SoupSession *session = nullptr;
  SoupWebsocketConnection *ws = nullptr;
  GCancellable *cancellable = nullptr;
  GSource *keepalive = nullptr;
  guint64 session_id = 0;
  guint64 next_transaction = 0;
  std::map<std::string, Pending> pending;
  std::map<guint64, std::function<void (JsonObject *)>> listeners;

  Impl (JanusClientOptions o, JanusEvents e)
    : options (std::move (o)), events (std::move (e)) {}

  ~Impl ()
  {
    if (cancellable)
      g_cancellable_cancel (cancellable);
    g_clear_object (&cancellable);
    close_socket ();
    g_clear_object (&session);
    g_main_context_unref (context);
  }

  void connect ()
  {
    if (ws || cancellable)
      return;                   // up, or on the way up
    g_autoptr (SoupMessage) msg = soup_message_new ("GET", options.url.c_str ());
    if (!msg) {
      g_autoptr (GError) err = janus_error (JanusError::kUnreachable,
          options.url, "not a ws:// or wss:// URL");
      events.state (false, err);
      return;
    }
    if (!session)
      session = soup_session_new_with_options ("timeout", 10, nullptr);
    cancellable = g_cancellable_new ();
    const char *protocols[] = { "janus-protocol", nullptr };
    soup_session_websocket_connect_async (session, msg, nullptr,
        (char **) protocols, G_PRIORITY_DEFAULT, cancellable, on_connected,
        this);
  }

  static void on_connected (GObject * source, GAsyncResult * res, gpointer data)
  {
    g_autoptr (GError) err = nullptr;
    SoupWebsocketConnection *ws = soup_session_websocket_connect_finish (
        SOUP_SESSION (source), res, &err);
    if (g_error_matches (err, G_IO_ERROR, G_IO_ERROR_CANCELLED))
      return;                   // destroyed: @data is gone
    auto self = static_cast<Impl *> (data);
    g_clear_object (&self->cancellable);
    if (!ws) {
      g_autoptr (GError) down = janus_error (JanusError::kUnreachable,
          self->options.url, err->message);
      self->events.state (false, down);
      return;
    }
    self->ws = ws;
    soup_websocket_connection_set_max_incoming_payload_size (ws,
        kJanusMaxMessageSize);
    g_signal_connect (ws, "message", G_CALLBACK (on_message), self);
    g_signal_connect (ws, "closed", G_CALLBACK (on_closed), self);
    self->create_session ();
  }

  void create_session ()
  {
    g_autoptr (JsonObject) request = json_object_new ();
    json_object_set_string_member (request, "janus", "create");
    send (request, false, [this] (JsonObject * data, JsonObject *,
            const GError * error) {
          if (error) {
            went_down (error);
            return;
          }
          session_id = json_object_get_int_member_with_default (data, "id", 0);
          start_keepalive ();
          events.state (true, nullptr);
        });
  }

  void start_keepalive ()
  {
    keepalive = g_timeout_source_new_seconds (options.keepalive_seconds);
    g_source_set_callback (keepalive, [] (gpointer data) -> gboolean {
          auto self = static_cast<Impl *> (data);
          g_autoptr (JsonObject) request = json_object_new ();
          json_object_set_string_member (request, "janus", "keepalive");
          self->send (request, true, [self] (JsonObject *, JsonObject *,
                  const GError * error) {
                // Only a refusal matters: a lost connection reports itself.
                if (g_error_matches (error, P2PCALL_JANUS_ERROR,
                        (int) JanusError::kRefused))
                  self->went_down (error);
              });
          return G_SOURCE_CONTINUE;
        }, this, nullptr);
    g_source_attach (keepalive, context);
  }

  // Stamps @request with a transaction, the session and the API secret,
  // and sends it; @reply gets its answer.
  void send (JsonObject * request, bool done_on_ack, JanusReply reply)
  {
    if (!ws || soup_websocket_connection_get_state (ws) !=
        SOUP_WEBSOCKET_STATE_OPEN) {
      g_autoptr (GError) err = janus_error (JanusError::kGone, options.url,
          "not connected");
      reply (nullptr, nullptr, err);
      return;
    }
    std::string transaction = "p2pcall-" + std::to_string (++next_transaction);
    json_object_set_string_member (request, "transaction", transaction.c_str ());
    if (session_id && !json_object_has_member (request, "session_id"))
      json_object_set_int_member (request, "session_id", (gint64) session_id);
    if (!options.api_secret.empty ())
      json_object_set_string_member (request, "apisecret",
          options.api_secret.c_str ());
    g_autoptr (JsonNode) node = json_node_init_object (json_node_alloc (),
        request);
    g_autofree char *text = json_to_string (node, FALSE);
    pending.emplace (transaction, Pending {std::move (reply), done_on_ack});
    soup_websocket_connection_send_text (ws, text);
  }

  static void on_message (SoupWebsocketConnection *, gint type, GBytes * bytes,
      gpointer data)
  {
    auto self = static_cast<Impl *> (data);
    if (type != SOUP_WEBSOCKET_DATA_TEXT)
      return;
    gsize size = 0;
    const char *text = static_cast<const char *> (g_bytes_get_data (bytes, &size));
    g_autoptr (JsonParser) parser = json_parser_new_immutable ();
    if (!json_parser_load_from_data (parser, text, (gssize) size, nullptr) ||
        !JSON_NODE_HOLDS_OBJECT (json_parser_get_root (parser))) {
      g_warning ("Janus at %s sent a message that is not a JSON object",
          self->options.url.c_str ());
      return;
    }
    self->dispatch (json_node_get_object (json_parser_get_root (parser)));
  }

  void dispatch (JsonObject * message)
  {
    const char *kind = json_object_get_string_member_with_default (message,
        "janus", "");
    const char *transaction = json_object_get_string_member_with_default (
        message, "transaction", "");
    auto it = pending.find (transaction);
    if (it == pending.end ()) {
      // Janus's own events: for a handle, or the session timing out.
      if (g_str_equal (kind, "timeout")) {
        g_autoptr (GError) err = janus_error (JanusError::kGone, options.url,
            "the session timed out");
        went_down (err);
        return;
      }
      guint64 handle = json_object_get_int_member_with_default (message,
          "sender", 0);
      auto listener = listeners.find (handle);
      if (listener != listeners.end ())
        listener->second (message);
      else if (handle && events.handle_event)
        events.handle_event (handle, message);
      return;
    }
    if (g_str_equal (kind, "ack")) {
      if (it->second.done_on_ack)
        finish (it, nullptr, nullptr, nullptr);
      return;
    }
    if (g_str_equal (kind, "error")) {
      g_autoptr (GError) err = janus_error (JanusError::kRefused, options.url,
          reason_of (janus_object_member (message, "error"), "reason").c_str ());
      finish (it, nullptr, nullptr, err);
      return;
    }
    // "success" of a core request or a synchronous plugin request, or the
    // "event" answering an asynchronous one.
    JsonObject *plugindata = janus_object_member (message, "plugindata");
    JsonObject *data = plugindata ? janus_object_member (plugindata, "data") :
        janus_object_member (message, "data");
    if (data && json_object_has_member (data, "error_code")) {
      g_autoptr (GError) err = janus_error (JanusError::kPlugin, options.url,
          reason_of (data, "error").c_str ());
      finish (it, nullptr, nullptr, err);
      return;
    }
    finish (it, data ? data : message, janus_object_member (message, "jsep"), nullptr);
  }

  void finish (std::map<std::string, Pending>::iterator it, JsonObject * data,
      JsonObject * jsep, const GError * error)
  {
    JanusReply reply = std::move (it->second.reply);
    pending.erase (it);
    reply (data, jsep, error);
  }

  static void on_closed (SoupWebsocketConnection * ws, gpointer data)
  {
    auto self = static_cast<Impl *> (data);
    g_autoptr (GError) err = janus_error (JanusError::kGone, self->options.url,
        "the connection closed");
    self->went_down (err);
  }

  // Ends the session: every open request fails, the owner is told once.
  void went_down (const GError * error)
  {
    bool was_connected = ws != nullptr;
    close_socket ();
    std::map<std::string, Pending> open;
    open.swap (pending);
    listeners.clear ();
    for (auto &[transaction, p] : open)
      p.reply (nullptr, nullptr, error);
    if (was_connected)
      events.state (false, error);
  }

  void close_socket ()
  {
    if (keepalive) {
      g_source_destroy (keepalive);
      g_clear_pointer (&keepalive, g_source_unref);
    }
    session_id = 0;
    if (!ws)
      return;
    g_signal_handlers_disconnect_by_data (ws, this);
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
    g_clear_object (&ws);
  }
};

JanusClient::JanusClient (JanusClientOptions options, JanusEvents events)
  : impl_ (std::make_unique<Impl> (std::move (options), std::move (events)))
{
}

JanusClient::~JanusClient () = default;

void
JanusClient::connect ()
{
  impl_->connect ();
}

bool
JanusClient::is_up () const
{
  return impl_->session_id != 0;
}

const std::string &
JanusClient::url () const
{
  return impl_->options.url;
}

void
JanusClient::attach (const char *plugin, std::function<void (guint64,
        const GError *)> done)
{
  g_autoptr (JsonObject) request = json_object_new ();
  json_object_set_string_member (request, "janus", "attach");
  json_object_set_string_member (request, "plugin", plugin);
  impl_->send (request, false, [done = std::move (done)] (JsonObject * data,
          JsonObject *, const GError * error) {
        done (error ? 0 : json_object_get_int_member_with_default (data, "id",
                0), error);
      });
}

void
JanusClient::listen (guint64 handle, std::function<void (JsonObject *)> listener)
{
  impl_->listeners[handle] = std::move (listener);
}

void
JanusClient::detach (guint64 handle)
{
  impl_->listeners.erase (handle);
  g_autoptr (JsonObject) request = json_object_new ();
  json_object_set_string_member (request, "janus", "detach");
  json_object_set_int_member (request, "handle_id", (gint64) handle);
  impl_->send (request, false, [] (JsonObject *, JsonObject *,
          const GError *) {});
}

void
JanusClient::message (guint64 handle, JsonObject * body, JsonObject * jsep,
    JanusReply reply)
{
  g_autoptr (JsonObject) request = json_object_new ();
  json_object_set_string_member (request, "janus", "message");
  json_object_set_int_member (request, "handle_id", (gint64) handle);
  json_object_set_object_member (request, "body", json_object_ref (body));
  if (jsep)
    json_object_set_object_member (request, "jsep", json_object_ref (jsep));
  impl_->send (request, false, std::move (reply));
}

void
JanusClient::trickle (guint64 handle, JsonObject * candidate)
{
  g_autoptr (JsonObject) request = json_object_new ();
  json_object_set_string_member (request, "janus", "trickle");
  json_object_set_int_member (request, "handle_id", (gint64) handle);
  if (candidate) {
    json_object_set_object_member (request, "candidate",
        json_object_ref (candidate));
  } else {
    g_autoptr (JsonObject) completed = json_object_new ();
    json_object_set_boolean_member (completed, "completed", TRUE);
    json_object_set_object_member (request, "candidate",
        (JsonObject *) g_steal_pointer (&completed));
  }
  impl_->send (request, true, [] (JsonObject *, JsonObject *, const GError *) {});
}

}  // namespace p2pcall::server
