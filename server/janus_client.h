// A client of one Janus instance's WebSocket API (subprotocol
// "janus-protocol"): the part of p2pcall-server that will drive Janus's
// VideoRoom for SFU rooms (issue 17). It holds one Janus session, keeps it
// alive, matches answers to requests by transaction, and hands the events
// Janus sends on its own (webrtcup, hangup, a plugin's asynchronous events)
// to one handler. Clients never see any of this: only the server speaks to
// Janus, and only it knows the API secret.
#pragma once

#include <json-glib/json-glib.h>

#include <functional>
#include <memory>
#include <string>

namespace p2pcall::server {

#define P2PCALL_JANUS_ERROR (p2pcall::server::janus_error_quark ())
GQuark janus_error_quark ();

enum class JanusError {
  kUnreachable,   // no WebSocket to the URL
  kGone,          // the connection (or the session) ended with the request open
  kRefused,       // Janus answered "error" (bad API secret, unknown handle, ...)
  kPlugin,        // the plugin answered with error_code / error
};

// Janus closes sessions that stay silent for its session_timeout (60 s by
// default); a keep-alive every 25 s is what its own JavaScript library sends.
inline constexpr guint kJanusKeepaliveSeconds = 25;
// Janus's messages are ours to trust, but still bounded: an SDP with many
// m-lines is tens of KiB.
inline constexpr guint64 kJanusMaxMessageSize = 4 * 1024 * 1024;

// @object's member @name when it is an object (Janus's messages nest
// plugindata, data and jsep), else nullptr.
JsonObject *janus_object_member (JsonObject * object, const char *name);

struct JanusClientOptions {
  std::string url;              // ws://HOST:PORT of Janus's WebSocket transport
  std::string api_secret;       // Janus's api_secret; empty when it has none
  guint keepalive_seconds = kJanusKeepaliveSeconds;
};

// What a request comes back with: @reply is the plugin's data (for a plugin
// message: plugindata.data; for core requests: the answer's "data"), @jsep
// the SDP Janus attached (nullptr when none). On failure both are nullptr
// and @error says why, naming the instance's URL.
using JanusReply = std::function<void (JsonObject * reply, JsonObject * jsep,
    const GError * error)>;

struct JanusEvents {
  // The session is up (after connect()) or went down for good (@error set:
  // the instance died, refused the API secret, or timed the session out).
  // Every open request has then failed with kGone.
  std::function<void (bool up, const GError * error)> state;
  // An event Janus sent on its own for a plugin handle nobody listens to
  // (see listen()): @event is the whole message ("webrtcup", "media", "slowlink", "hangup", "detached", or
  // "event" with plugindata and maybe jsep).
  std::function<void (guint64 handle, JsonObject * event)> handle_event;
};

class JanusClient {
public:
  // Runs on the thread-default GMainContext of the thread that creates it.
  JanusClient (JanusClientOptions options, JanusEvents events);
  ~JanusClient ();
  JanusClient (const JanusClient &) = delete;
  JanusClient & operator= (const JanusClient &) = delete;

  // Opens the WebSocket and creates the session; events.state says how it
  // went. Calling it again after the session went down starts a new one.
  void connect ();
  bool is_up () const;
  const std::string & url () const;

  // Attaches a plugin ("janus.plugin.videoroom"); the reply's "id" is the
  // handle.
  void attach (const char *plugin, std::function<void (guint64 handle,
          const GError * error)> done);
  // Events Janus sends on its own for @handle go to @listener instead of
  // events.handle_event, until the handle is detached.
  void listen (guint64 handle, std::function<void (JsonObject * event)> listener);
  void detach (guint64 handle);
  // Sends @body (and @jsep, may be nullptr) to the plugin behind @handle.
  // Synchronous plugin requests (VideoRoom's create, exists, list, destroy)
  // answer at once; asynchronous ones (join, configure, start) answer with
  // the event Janus sends for the same transaction.
  void message (guint64 handle, JsonObject * body, JsonObject * jsep,
      JanusReply reply);
  // A trickled candidate ({candidate, sdpMLineIndex}) or, with @candidate
  // nullptr, the end of candidates.
  void trickle (guint64 handle, JsonObject * candidate);

private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace p2pcall::server
