#include "sfu_room.h"

namespace p2pcall::server {

namespace {

// Sends VideoRoom's @request on @handle with an SDP of @type attached.
void
send_with_sdp (JanusClient & janus, guint64 handle, const char *request,
    const char *type, const std::string & sdp, JanusReply reply)
{
  g_autoptr (JsonObject) body = json_object_new ();
  json_object_set_string_member (body, "request", request);
  g_autoptr (JsonObject) jsep = json_object_new ();
  json_object_set_string_member (jsep, "type", type);
  json_object_set_string_member (jsep, "sdp", sdp.c_str ());
  janus.message (handle, body, jsep, std::move (reply));
}

// {"feed": F} entries of a subscribe request.
JsonArray *
feed_list (const std::vector<guint64> & feeds)
{
  JsonArray *streams = json_array_new ();
  for (guint64 feed : feeds) {
    JsonObject *stream = json_object_new ();
    json_object_set_int_member (stream, "feed", (gint64) feed);
    json_array_add_object_element (streams, stream);
  }
  return streams;
}

}  // namespace

struct SfuRoom::Member {
  guint64 publisher = 0;        // handle
  guint64 feed = 0;             // its publisher id in the room, once joined
  bool publishing = false;      // its upload is up (webrtcup)
  guint64 subscriber = 0;       // handle, once its first subscription is made
  bool subscribing = false;     // the first subscription is under way
  std::vector<guint64> feeds_waiting;   // to subscribe once that is done
  std::string offer_waiting;    // a publisher offer that came before its join
  // Candidates that came before their leg's handle existed.
  std::vector<std::pair<unsigned, std::string>> held[2];
};

SfuRoom::SfuRoom (JanusClient & janus, guint64 room_id, Events events)
  : janus_ (janus), room_id_ (room_id), events_ (std::move (events))
{
}

SfuRoom::~SfuRoom ()
{
  *alive_ = false;
  for (auto &[handle, owner] : handles_)
    janus_.detach (handle);
  if (!janus_.is_up ())
    return;
  // Any handle can destroy a room; the last one asks on its own.
  janus_.attach ("janus.plugin.videoroom", [&janus = janus_,
          room = room_id_] (guint64 handle, const GError * error) {
        if (error)
          return;
        g_autoptr (JsonObject) body = json_object_new ();
        json_object_set_string_member (body, "request", "destroy");
        json_object_set_int_member (body, "room", (gint64) room);
        janus.message (handle, body, nullptr, [&janus, handle] (JsonObject *,
                JsonObject *, const GError *) {
              janus.detach (handle);
            });
      });
}

SfuRoom::Member *
SfuRoom::find (const std::string & member)
{
  auto it = members_.find (member);
  return it == members_.end () ? nullptr : &it->second;
}

void
SfuRoom::open (guint max_publishers, std::function<void (const GError *)> done)
{
  std::weak_ptr<bool> alive = alive_;
  janus_.attach ("janus.plugin.videoroom", [this, alive, max_publishers,
          done = std::move (done)] (guint64 handle, const GError * error) {
        if (alive.expired () || error) {
          done (error);
          return;
        }
        g_autoptr (JsonObject) body = json_object_new ();
        json_object_set_string_member (body, "request", "create");
        json_object_set_int_member (body, "room", (gint64) room_id_);
        json_object_set_int_member (body, "publishers", max_publishers);
        // What browsers and the elements all send.
        json_object_set_string_member (body, "videocodec", "vp8,vp9,h264");
        json_object_set_string_member (body, "audiocodec", "opus");
        // Only this server reaches the instance; the room is not listed to
        // anyone else who might.
        json_object_set_boolean_member (body, "is_private", TRUE);
        janus_.message (handle, body, nullptr, [this, handle, done] (JsonObject *,
                JsonObject *, const GError * error) {
              janus_.detach (handle);
              done (error);
            });
      });
}

void
SfuRoom::attach (const std::string & member, Leg leg,
    std::function<void (Member &, guint64)> then)
{
  std::weak_ptr<bool> alive = alive_;
  janus_.attach ("janus.plugin.videoroom", [this, alive, member, leg,
          then = std::move (then)] (guint64 handle, const GError * error) {
        if (alive.expired ())
          return;
        Member *m = find (member);
        if (error || !m) {
          if (!error)
            janus_.detach (handle);       // it left meanwhile
          else
            events_.failed (member, leg, error->message);
          return;
        }
        handles_[handle] = HandleOwner {member, leg};
        janus_.listen (handle, [this, handle] (JsonObject * event) {
              on_handle_event (handle, event);
            });
        (leg == Leg::kPublisher ? m->publisher : m->subscriber) = handle;
        for (auto &[mline, candidate] : m->held[(int) leg])
          send_candidate (handle, mline, candidate);
        m->held[(int) leg].clear ();
        then (*m, handle);
      });
}

JsonObject *
SfuRoom::join_request (const char *ptype) const
{
  JsonObject *body = json_object_new ();
  json_object_set_string_member (body, "request", "join");
  json_object_set_string_member (body, "ptype", ptype);
  json_object_set_int_member (body, "room", (gint64) room_id_);
  return body;
}

void
SfuRoom::join (const std::string & member)
{
  members_[member];
  std::weak_ptr<bool> alive = alive_;
  attach (member, Leg::kPublisher, [this, alive, member] (Member & m,
          guint64 handle) {
        g_autoptr (JsonObject) body = join_request ("publisher");
        // Subscribers see it as each stream's feed_display: the member's
        // id in p2pcall's room, which is how clients tell the streams apart.
        json_object_set_string_member (body, "display", member.c_str ());
        janus_.message (handle, body, nullptr, [this, alive, member] (
                JsonObject * joined, JsonObject *, const GError * error) {
              if (alive.expired ())
                return;
              Member *m = find (member);
              if (!m)
                return;
              if (error) {
                events_.failed (member, Leg::kPublisher, error->message);
                return;
              }
              m->feed = json_object_get_int_member_with_default (joined, "id", 0);
              if (!m->offer_waiting.empty ()) {
                std::string offer;
                offer.swap (m->offer_waiting);
                publish (member, offer);
                m = find (member);
              }
              // Everyone already publishing, over one subscription.
              std::vector<guint64> feeds;
              for (auto &[id, other] : members_)
                if (id != member && other.publishing)
                  feeds.push_back (other.feed);
              subscribe (*m, feeds);
            });
      });
}

void
SfuRoom::publish (const std::string & member, const std::string & offer_sdp)
{
  Member *m = find (member);
  if (!m) {
    events_.failed (member, Leg::kPublisher, "not in the SFU room");
    return;
  }
  if (!m->feed) {
    m->offer_waiting = offer_sdp;       // its join is under way
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  // "configure" publishes the first time and renegotiates after (an added
  // screen share, a restart); "publish" would refuse the second.
  send_with_sdp (janus_, m->publisher, "configure", "offer", offer_sdp,
      [this, alive, member] (JsonObject *,
          JsonObject * answer, const GError * error) {
        if (alive.expired () || !find (member))
          return;
        if (error || !answer) {
          events_.failed (member, Leg::kPublisher, error ? error->message :
              "Janus answered the offer without an SDP");
          return;
        }
        events_.description (member, Leg::kPublisher, "answer",
            json_object_get_string_member_with_default (answer, "sdp", ""));
      });
}

void
SfuRoom::subscribe (Member & m, const std::vector<guint64> & feeds)
{
  if (feeds.empty ())
    return;
  if (m.subscribing) {
    m.feeds_waiting.insert (m.feeds_waiting.end (), feeds.begin (), feeds.end ());
    return;
  }
  std::string member;
  for (auto &[id, other] : members_)
    if (&other == &m)
      member = id;
  std::weak_ptr<bool> alive = alive_;
  // Janus answers both the first join and later subscribes with an offer
  // (attached / updated), or with "updating" and the offer later as an event
  // of the handle (on_handle_event passes that one on).
  auto forward_offer = [this, alive, member] (JsonObject *, JsonObject * offer,
      const GError * error) {
    if (alive.expired ())
      return;
    Member *m = find (member);
    if (!m)
      return;
    m->subscribing = false;
    if (error)
      events_.failed (member, Leg::kSubscriber, error->message);
    else if (offer)
      events_.description (member, Leg::kSubscriber, "offer",
          json_object_get_string_member_with_default (offer, "sdp", ""));
    if (!m->feeds_waiting.empty ()) {
      std::vector<guint64> waiting;
      waiting.swap (m->feeds_waiting);
      subscribe (*m, waiting);
    }
  };
  m.subscribing = true;
  if (m.subscriber) {
    g_autoptr (JsonObject) body = json_object_new ();
    json_object_set_string_member (body, "request", "subscribe");
    json_object_set_array_member (body, "streams", feed_list (feeds));
    janus_.message (m.subscriber, body, nullptr, forward_offer);
    return;
  }
  attach (member, Leg::kSubscriber, [this, feeds, forward_offer] (Member & m,
          guint64 handle) {
        g_autoptr (JsonObject) body = join_request ("subscriber");
        json_object_set_boolean_member (body, "use_msid", TRUE);
        json_object_set_array_member (body, "streams", feed_list (feeds));
        janus_.message (handle, body, nullptr, forward_offer);
      });
}

void
SfuRoom::answer (const std::string & member, const std::string & answer_sdp)
{
  Member *m = find (member);
  if (!m || !m->subscriber) {
    events_.failed (member, Leg::kSubscriber, "no subscriber offer to answer");
    return;
  }
  std::weak_ptr<bool> alive = alive_;
  send_with_sdp (janus_, m->subscriber, "start", "answer", answer_sdp,
      [this, alive, member] (JsonObject *,
          JsonObject *, const GError * error) {
        if (!alive.expired () && error && find (member))
          events_.failed (member, Leg::kSubscriber, error->message);
      });
}

void
SfuRoom::send_candidate (guint64 handle, unsigned mline_index,
    const std::string & candidate)
{
  if (candidate.empty ()) {
    janus_.trickle (handle, nullptr);
    return;
  }
  g_autoptr (JsonObject) object = json_object_new ();
  json_object_set_string_member (object, "candidate", candidate.c_str ());
  json_object_set_int_member (object, "sdpMLineIndex", mline_index);
  janus_.trickle (handle, object);
}

void
SfuRoom::candidate (const std::string & member, Leg leg, unsigned mline_index,
    const std::string & candidate)
{
  Member *m = find (member);
  if (!m)
    return;
  guint64 handle = leg == Leg::kPublisher ? m->publisher : m->subscriber;
  if (!handle) {
    m->held[(int) leg].emplace_back (mline_index, candidate);
    return;
  }
  send_candidate (handle, mline_index, candidate);
}

void
SfuRoom::leave (const std::string & member)
{
  Member *m = find (member);
  if (!m)
    return;
  for (guint64 handle : {m->publisher, m->subscriber}) {
    if (!handle)
      continue;
    handles_.erase (handle);
    // Detaching a publisher handle unpublishes it: Janus renegotiates the
    // others' subscriptions without its streams (autoupdate).
    janus_.detach (handle);
  }
  members_.erase (member);
}

std::vector<std::string>
SfuRoom::publishing () const
{
  std::vector<std::string> ids;
  for (auto &[id, m] : members_)
    if (m.publishing)
      ids.push_back (id);
  return ids;
}

void
SfuRoom::on_handle_event (guint64 handle, JsonObject * event)
{
  auto owner = handles_.find (handle);
  if (owner == handles_.end ())
    return;
  std::string member = owner->second.member;
  Leg leg = owner->second.leg;
  Member *m = find (member);
  if (!m)
    return;
  const char *kind = json_object_get_string_member_with_default (event,
      "janus", "");
  if (leg == Leg::kPublisher && g_str_equal (kind, "webrtcup") &&
      !m->publishing) {
    // Its upload is up: now the others can subscribe to it.
    m->publishing = true;
    for (auto &[id, other] : members_)
      if (id != member && other.feed)
        subscribe (other, {m->feed});
    return;
  }
  if (leg == Leg::kSubscriber && g_str_equal (kind, "event")) {
    // A renegotiation Janus started itself: a publisher left (autoupdate),
    // or a subscription it had postponed ("updating") is ready.
    JsonObject *offer = janus_object_member (event, "jsep");
    if (offer)
      events_.description (member, Leg::kSubscriber, "offer",
          json_object_get_string_member_with_default (offer, "sdp", ""));
  }
}

}  // namespace p2pcall::server
