// The room signalling seen by the elements: a small interface in the manner
// of gst-plugins-rs's signaller, so that element code never touches the
// WebSocket or the JSON and a test can plug a direct implementation.
#pragma once

#include <glib.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace p2pcall {

struct RemotePeer {
  std::string id;               // the server's id, new on every join
  std::string name;
  std::string client_id;        // the peer's stable "clientId", may be empty
  bool receive_only = false;    // its peer-state says it sends nothing
};

struct IceServer {
  std::vector<std::string> urls;
  std::string username;
  std::string credential;
};

// What arrives. Every callback runs on the GMainContext given to start().
struct SignallingEvents {
  // Joined (or rejoined after a reconnection) as @self_id.
  std::function<void (const std::string & self_id,
      const std::vector<RemotePeer> & peers,
      const std::vector<IceServer> & ice_servers)> joined;
  std::function<void (const RemotePeer & peer)> peer_joined;
  std::function<void (const std::string & peer_id)> peer_left;
  // A peer's peer-state; @client_id is empty when it gave none.
  std::function<void (const std::string & peer_id,
      const std::string & client_id, bool receive_only)> peer_state;
  // @type is "offer" or "answer".
  std::function<void (const std::string & peer_id, const std::string & type,
      const std::string & sdp)> description;
  // An empty @candidate is the end of candidates.
  std::function<void (const std::string & peer_id, unsigned mline_index,
      const std::string & candidate)> candidate;
  // @fatal: the session cannot go on (server unreachable at start, its
  // certificate not trusted: code "tls", room refused); otherwise a refusal
  // of one message.
  std::function<void (bool fatal, const std::string & code,
      const std::string & message)> error;
  // The server connection dropped after a join; reconnection is under way.
  std::function<void ()> connection_lost;
};

struct SignallingConfig {
  std::string server_url;
  std::string room;
  std::string name;
  std::string token;
  std::string ca_file;          // PEM CAs for wss://; empty: the system's
};

class SignallingClient {
public:
  virtual ~SignallingClient () = default;

  // Connects and joins; reconnects with backoff and rejoins when the
  // connection drops after a successful join. Runs on @context.
  virtual void start (const SignallingConfig & config, GMainContext * context,
      SignallingEvents events) = 0;
  // Leaves and closes. Must be called from @context's thread.
  virtual void stop () = 0;

  // These drop the message when not connected: peers reconnecting resend.
  virtual void send_description (const std::string & peer_id,
      const std::string & type, const std::string & sdp) = 0;
  virtual void send_candidate (const std::string & peer_id,
      unsigned mline_index, const std::string & candidate) = 0;
  virtual void send_peer_state (bool audio, bool video,
      const std::string & client_id, bool receive_only) = 0;
};

// The libsoup 3 WebSocket implementation (debug category p2pcallsignalling).
std::unique_ptr<SignallingClient> make_websocket_signalling ();

// Lets tests replace the WebSocket implementation for every element created
// afterwards; nullptr restores it.
using SignallingFactory = std::unique_ptr<SignallingClient> (*) ();
void set_signalling_factory (SignallingFactory factory);
std::unique_ptr<SignallingClient> make_signalling ();

}  // namespace p2pcall
