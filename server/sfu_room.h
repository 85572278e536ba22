// One SFU room on one Janus instance (issue 17): a VideoRoom room, and per
// member a publisher handle (its one upload) and a subscriber handle (every
// other member's streams over one connection: Janus multistream). The
// server's own room decides who is a member; this class only drives Janus
// for them and says what each member's two peer connections must be told.
#pragma once

#include "janus_client.h"

#include <functional>
#include <map>
#include <string>
#include <vector>

namespace p2pcall::server {

class SfuRoom {
public:
  // A member's two connections to the SFU.
  enum class Leg { kPublisher, kSubscriber };

  struct Events {
    // An SDP for @member: on the publisher leg Janus's answer to its offer,
    // on the subscriber leg an offer (the first one, and each time the
    // streams it receives change) that the member answers with answer().
    std::function<void (const std::string & member, Leg leg,
        const char *type, const std::string & sdp)> description;
    // Janus refused something for @member (its offer, a subscription):
    // @why names the instance and Janus's reason.
    std::function<void (const std::string & member, Leg leg,
        const std::string & why)> failed;
  };

  SfuRoom (JanusClient & janus, guint64 room_id, Events events);
  // Detaches every handle and destroys the room on Janus (best effort: an
  // instance that is gone has forgotten it anyway).
  ~SfuRoom ();
  SfuRoom (const SfuRoom &) = delete;
  SfuRoom & operator= (const SfuRoom &) = delete;

  guint64 room_id () const { return room_id_; }

  // Creates the room on Janus (up to @max_publishers publishers).
  void open (guint max_publishers, std::function<void (const GError *)> done);
  // A member arrives: its publisher handle joins the room (not publishing
  // yet), and it is subscribed to everyone already publishing.
  void join (const std::string & member);
  // The member's publisher offer; the answer comes through
  // events.description.
  void publish (const std::string & member, const std::string & offer_sdp);
  // The member's answer to its latest subscriber offer.
  void answer (const std::string & member, const std::string & answer_sdp);
  // A trickled candidate of one of the member's legs (empty: the end).
  void candidate (const std::string & member, Leg leg, unsigned mline_index,
      const std::string & candidate);
  // The member leaves: its handles go; Janus renegotiates the others'
  // subscriptions without its streams by itself.
  void leave (const std::string & member);

  // Members whose publisher connection is up (Janus said webrtcup).
  std::vector<std::string> publishing () const;

private:
  struct Member;
  struct HandleOwner {
    std::string member;
    Leg leg;
  };

  // VideoRoom's join of this room as @ptype ("publisher", "subscriber").
  JsonObject *join_request (const char *ptype) const;
  void on_handle_event (guint64 handle, JsonObject * event);
  void subscribe (Member & m, const std::vector<guint64> & feeds);
  void send_candidate (guint64 handle, unsigned mline_index,
      const std::string & candidate);
  void attach (const std::string & member, Leg leg,
      std::function<void (Member &, guint64)> then);
  Member *find (const std::string & member);

  JanusClient & janus_;
  guint64 room_id_;
  Events events_;
  std::map<std::string, Member> members_;
  std::map<guint64, HandleOwner> handles_;
  // Lets Janus replies that arrive after this room is gone find nothing.
  std::shared_ptr<bool> alive_ = std::make_shared<bool> (true);
};

}  // namespace p2pcall::server
