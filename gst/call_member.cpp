#include "call_member.h"

#include <atomic>
#include <map>

GST_DEBUG_CATEGORY_STATIC (call_member_debug);
#define GST_CAT_DEFAULT call_member_debug

namespace p2pcall {

namespace {

// Members that elements can share, by server, room and peer name. Guards
// attaching and detaching parts too, so that two elements starting or
// stopping at once in two pipelines see one member.
std::mutex registry_lock;
std::map<std::string, std::weak_ptr<CallMember>> registry;

struct MemberPeerMedia : PeerMedia {
  // By CallMember::PartKind: each part's media and the part that made it.
  std::unique_ptr<PeerMedia> media[2];
  MemberPart *owner[2] = {nullptr, nullptr};
};

// What a webrtcbin receives and no part takes is dropped: a member without
// a receiving part is offered media all the same by senders (an answer
// cannot drop m-lines), and a receiving part that is going away links no
// more. Unlinked, it would stop the member's pipeline with not-linked.
GstPadProbeReturn
drop_when_unlinked (GstPad *pad, GstPadProbeInfo *, gpointer)
{
  return gst_pad_is_linked (pad) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
}

void
guard_received_pad (GstElement *, GstPad *pad, gpointer)
{
  if (GST_PAD_DIRECTION (pad) == GST_PAD_SRC)
    gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
            GST_PAD_PROBE_TYPE_BUFFER_LIST), drop_when_unlinked, nullptr,
        nullptr);
}

// The connection settings two parts of one member disagree on.
std::string
differing_settings (const SessionConfig &a, const SessionConfig &b)
{
  std::string names;
  auto check = [&] (bool same, const char *name) {
    if (!same)
      names += (names.empty () ? "" : ", ") + std::string (name);
  };
  check (a.token == b.token, "token");
  check (a.stun_server == b.stun_server, "stun-server");
  check (a.turn_server == b.turn_server, "turn-server");
  check (a.ice_addresses == b.ice_addresses, "ice-addresses");
  check (a.ca_file == b.ca_file, "ca-file");
  check (a.relay_only == b.relay_only, "ice-transport-policy");
  return names;
}

}  // namespace

CallMember::CallMember (const std::string &key, const SessionConfig &config,
    GstDebugCategory *debug_category)
  : key_ (key), config_ (config)
{
  static std::atomic<guint> counter {0};
  static gsize debug_init = 0;
  if (g_once_init_enter (&debug_init)) {
    GST_DEBUG_CATEGORY_INIT (call_member_debug, "p2pcallmember", 0,
        "p2pcall room members shared by p2pcallsink and p2pcallsrc");
    g_once_init_leave (&debug_init, 1);
  }
  std::string name = "p2pcall-member" + std::to_string (counter++);
  pipeline_ = GST_ELEMENT (gst_object_ref_sink (gst_pipeline_new (
              name.c_str ())));
  GstClock *clock = gst_system_clock_obtain ();
  gst_pipeline_use_clock (GST_PIPELINE (pipeline_), clock);
  gst_object_unref (clock);
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline_);
  gst_bus_set_sync_handler (bus, on_bus_message, this, nullptr);
  gst_element_set_state (pipeline_, GST_STATE_PLAYING);
  session_ = std::make_unique<RoomSession> (*this, debug_category);
}

CallMember::~CallMember ()
{
  session_->stop ();
  g_autoptr (GstBus) bus = gst_element_get_bus (pipeline_);
  gst_bus_set_sync_handler (bus, nullptr, nullptr, nullptr);
  session_.reset ();
  gst_element_set_state (pipeline_, GST_STATE_NULL);
  gst_object_unref (pipeline_);
  for (Part &p : parts_)
    gst_clear_object (&p.element);
}

std::shared_ptr<CallMember>
CallMember::attach (GstElement *element, PartKind kind, MemberPart &part,
    const SessionConfig &config, GstDebugCategory *debug_category,
    std::string *error)
{
  std::lock_guard<std::mutex> lock (registry_lock);
  std::string key;
  if (!config.peer_name.empty ())
    key = config.server + '\n' + config.room + '\n' + config.peer_name;
  std::shared_ptr<CallMember> member;
  if (!key.empty ()) {
    auto it = registry.find (key);
    if (it != registry.end ())
      member = it->second.lock ();
  }

  bool first = !member;
  if (first) {
    member.reset (new CallMember (key, config, debug_category));
    if (!key.empty ())
      registry[key] = member;
  } else {
    GstElement *other;
    {
      std::lock_guard<std::mutex> parts_lock (member->parts_lock_);
      if (member->parts_[kind].part) {
        *error = std::string (GST_ELEMENT_NAME (member->parts_[kind].element))
            + " is already the " + (kind == kSender ? "sending" :
            "receiving") + " side of member '" + config.peer_name +
            "' of room '" + config.room + "' in this process: give " +
            GST_ELEMENT_NAME (element) + " another peer-name.";
        return nullptr;
      }
      other = GST_ELEMENT (gst_object_ref (member->parts_[1 - kind].element));
    }
    std::string differ = differing_settings (member->config_, config);
    if (!differ.empty ())
      GST_ELEMENT_WARNING (element, RESOURCE, SETTINGS,
          ("%s and %s are one member of room '%s' (same peer-name '%s'), "
              "which connects with the settings of %s: their %s differ.",
              GST_ELEMENT_NAME (element), GST_ELEMENT_NAME (other),
              config.room.c_str (), config.peer_name.c_str (),
              GST_ELEMENT_NAME (other), differ.c_str ()), (nullptr));
    GST_INFO_OBJECT (element, "joins %s as a part of member '%s'",
        GST_ELEMENT_NAME (other), config.peer_name.c_str ());
    gst_object_unref (other);
  }

  CallMember *self = member.get ();
  auto set_part = [self, kind, &part, element, &config] {
    {
      std::lock_guard<std::mutex> parts_lock (self->parts_lock_);
      self->parts_[kind] = {&part, GST_ELEMENT (gst_object_ref (element))};
    }
    // The jitter buffer latency is the receiving part's.
    if (kind == kReceiver && config.latency_ms >= 0) {
      self->config_.latency_ms = config.latency_ms;
      self->session_->set_latency_ms (config.latency_ms);
    }
  };
  // Before the join, nobody to renegotiate with.
  member->session_->run_sync (set_part, member->joined_);
  return member;
}

void
CallMember::join ()
{
  std::lock_guard<std::mutex> lock (registry_lock);
  if (joined_)
    return;
  joined_ = true;
  session_->start (config_);
}

void
CallMember::detach (std::shared_ptr<CallMember> member, PartKind kind)
{
  if (!member)
    return;
  std::lock_guard<std::mutex> lock (registry_lock);
  CallMember *self = member.get ();
  bool last;
  {
    std::lock_guard<std::mutex> parts_lock (self->parts_lock_);
    last = !self->parts_[1 - kind].part;
  }
  auto clear_part = [self, kind] {
    GstElement *element;
    {
      std::lock_guard<std::mutex> parts_lock (self->parts_lock_);
      element = self->parts_[kind].element;
      self->parts_[kind] = {};
    }
    gst_clear_object (&element);
  };
  if (!last) {
    self->session_->run_sync (clear_part, true);
    return;
  }
  if (!self->key_.empty ()) {
    auto it = registry.find (self->key_);
    if (it != registry.end () && it->second.lock () == member)
      registry.erase (it);
  }
  // Leaves the room; the peers' media goes with the part still there.
  self->session_->stop ();
  clear_part ();
}

void
CallMember::media_ready_changed ()
{
  session_->media_ready_changed ();
}

void
CallMember::media_changed ()
{
  std::lock_guard<std::mutex> lock (registry_lock);
  session_->run_sync ([] {}, joined_);
}

GstStructure *
CallMember::stats ()
{
  return session_->stats ();
}

GstClockTimeDiff
CallMember::running_time_offset (GstElement *element) const
{
  g_autoptr (GstClock) clock = gst_element_get_clock (element);
  g_autoptr (GstClock) own = gst_element_get_clock (pipeline_);
  if (!clock || !own)
    return 0;
  GstClockTime now = gst_clock_get_time (clock);
  GstClockTime own_now = gst_clock_get_time (own);
  return GST_CLOCK_DIFF (gst_element_get_base_time (element), now) -
      GST_CLOCK_DIFF (gst_element_get_base_time (pipeline_), own_now);
}

// Errors and warnings of the webrtcbins go to the member's elements, whose
// pipelines' buses the application watches; the rest stays here.
GstBusSyncReply
CallMember::on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto self = static_cast<CallMember *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_LATENCY:
      // Nobody else watches this pipeline's bus: without this the
      // webrtcbins' RTP sessions would run without a configured latency.
      self->session_->run_async ([self] {
            gst_bin_recalculate_latency (GST_BIN (self->pipeline_));
          });
      break;
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING:
    case GST_MESSAGE_INFO:
      for (GstElement *e : self->elements ()) {
        gst_element_post_message (e, gst_message_copy (msg));
        gst_object_unref (e);
      }
      break;
    default:
      break;
  }
  gst_message_unref (msg);
  return GST_BUS_DROP;
}

std::vector<GstElement *>
CallMember::elements ()
{
  std::vector<GstElement *> all;
  std::lock_guard<std::mutex> lock (parts_lock_);
  for (Part &p : parts_)
    if (p.element)
      all.push_back (GST_ELEMENT (gst_object_ref (p.element)));
  return all;
}

MediaPlan
CallMember::plan () const
{
  std::lock_guard<std::mutex> lock (parts_lock_);
  MediaPlan plan;
  plan.receive = parts_[kReceiver].part != nullptr;
  if (MemberPart *sender = parts_[kSender].part) {
    plan.sends_audio = sender->sends_audio ();
    plan.sends_video = sender->sends_video ();
  }
  return plan;
}

bool
CallMember::sends_audio () const
{
  return plan ().sends_audio;
}

bool
CallMember::sends_video () const
{
  return plan ().sends_video;
}

bool
CallMember::media_ready () const
{
  MemberPart *sender;
  {
    std::lock_guard<std::mutex> lock (parts_lock_);
    sender = parts_[kSender].part;
  }
  return !sender || sender->media_ready ();
}

std::unique_ptr<PeerMedia>
CallMember::attach_media (GstElement *webrtcbin, const std::string &label,
    const GstSDPMessage *offer)
{
  MediaPlan media_plan = plan ();
  auto media = std::make_unique<MemberPeerMedia> ();
  // First, so that the probe is on each pad before a part links it.
  g_signal_connect (webrtcbin, "pad-added", G_CALLBACK (guard_received_pad),
      nullptr);
  MemberPart *parts[2];
  {
    std::lock_guard<std::mutex> lock (parts_lock_);
    parts[kSender] = parts_[kSender].part;
    parts[kReceiver] = parts_[kReceiver].part;
  }
  // The sender's transceivers first: they carry both directions when the
  // member also receives, and the receiver only adds what they lack.
  for (int kind : {kSender, kReceiver})
    if (parts[kind]) {
      media->owner[kind] = parts[kind];
      media->media[kind] = parts[kind]->attach_media (webrtcbin, *this,
          label, offer, media_plan);
    }
  return media;
}

void
CallMember::unlink_media (PeerMedia *peer_media)
{
  auto media = static_cast<MemberPeerMedia *> (peer_media);
  if (media && media->owner[kSender])
    media->owner[kSender]->unlink_media (media->media[kSender].get ());
}

void
CallMember::detach_media (GstElement *webrtcbin, PeerMedia *peer_media)
{
  auto media = static_cast<MemberPeerMedia *> (peer_media);
  if (!media)
    return;
  g_signal_handlers_disconnect_by_func (webrtcbin,
      (gpointer) guard_received_pad, nullptr);
  for (int kind : {kReceiver, kSender})
    if (media->owner[kind]) {
      media->owner[kind]->detach_media (webrtcbin, *this,
          media->media[kind].get ());
      media->media[kind].reset ();
    }
}

void
CallMember::peer_connected (PeerMedia *peer_media)
{
  auto media = static_cast<MemberPeerMedia *> (peer_media);
  if (media && media->owner[kSender])
    media->owner[kSender]->peer_connected (media->media[kSender].get ());
}

// ---------------------------------------------------------------------------

bool
MemberSlot::attach (GstElement *element, const SessionConfig &config,
    GstDebugCategory *category)
{
  std::string error;
  auto member = CallMember::attach (element, kind_, *part_, config, category,
      &error);
  if (!member) {
    GST_ELEMENT_ERROR (element, RESOURCE, SETTINGS, ("%s", error.c_str ()),
        (nullptr));
    return false;
  }
  std::lock_guard<std::mutex> lock (lock_);
  member_ = std::move (member);
  return true;
}

void
MemberSlot::playing (GstElement *element)
{
  if (auto m = member ()) {
    crossings.update (element, *m);
    m->join ();
  }
}

void
MemberSlot::detach ()
{
  // The member calls into the part while it detaches: member_ stays set
  // until then, for the part's calls to member().
  CallMember::detach (member (), kind_);
  std::lock_guard<std::mutex> lock (lock_);
  member_.reset ();
}

std::shared_ptr<CallMember>
MemberSlot::member ()
{
  std::lock_guard<std::mutex> lock (lock_);
  return member_;
}

GstStructure *
MemberSlot::stats ()
{
  auto m = member ();
  return m ? m->stats () :
      gst_structure_new_empty ("application/x-p2pcall-stats");
}

GstElement *
make_crossing_proxysrc (GstClockTime max_time)
{
  GstElement *proxysrc = gst_element_factory_make ("proxysrc", nullptr);
  if (!proxysrc)
    return nullptr;
  g_autoptr (GstIterator) it = gst_bin_iterate_elements (GST_BIN (proxysrc));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    GObject *child = G_OBJECT (g_value_get_object (&item));
    if (g_object_class_find_property (G_OBJECT_GET_CLASS (child), "leaky")) {
      gst_util_set_object_arg (child, "leaky", "downstream");
      g_object_set (child, "max-size-buffers", 0, "max-size-bytes", 0,
          "max-size-time", max_time, nullptr);
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  return proxysrc;
}

struct Crossings::Crossing {
  GstPad *pad;                  // reffed
  Direction direction;
  gulong probe = 0;
  std::mutex lock;              // guards what follows
  GstClockTimeDiff offset = 0;  // add to a running time of the side left
  GstSegment segment;           // the last one that came, TIME
  bool have_segment = false;

  ~Crossing () { gst_object_unref (pad); }

  // @t (a timestamp in segment) as a running time of the side entered.
  GstClockTime retime (GstClockTime t)
  {
    if (!GST_CLOCK_TIME_IS_VALID (t) || !have_segment)
      return t;
    GstClockTime running = gst_segment_to_running_time (&segment,
        GST_FORMAT_TIME, t);
    if (!GST_CLOCK_TIME_IS_VALID (running) ||
        (offset < 0 && running < (GstClockTime) - offset))
      return GST_CLOCK_TIME_NONE;
    return running + offset;
  }

  // False when @buffer is from before the side entered started.
  bool retime (GstBuffer *buffer)
  {
    bool had_pts = GST_BUFFER_PTS_IS_VALID (buffer);
    GST_BUFFER_PTS (buffer) = retime (GST_BUFFER_PTS (buffer));
    GST_BUFFER_DTS (buffer) = retime (GST_BUFFER_DTS (buffer));
    return !had_pts || GST_BUFFER_PTS_IS_VALID (buffer);
  }

  static GstPadProbeReturn probe_cb (GstPad *, GstPadProbeInfo *info,
      gpointer data)
  {
    Crossing *self = static_cast<std::shared_ptr<Crossing> *> (data)->get ();
    std::lock_guard<std::mutex> lock (self->lock);
    if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
      GstEvent *event = GST_PAD_PROBE_INFO_EVENT (info);
      if (GST_EVENT_TYPE (event) != GST_EVENT_SEGMENT)
        return GST_PAD_PROBE_OK;
      const GstSegment *segment;
      gst_event_parse_segment (event, &segment);
      if (segment->format != GST_FORMAT_TIME)
        return GST_PAD_PROBE_OK;
      gst_segment_copy_into (segment, &self->segment);
      self->have_segment = true;
      GstSegment retimed;
      gst_segment_init (&retimed, GST_FORMAT_TIME);
      GstEvent *replaced = gst_event_new_segment (&retimed);
      gst_event_set_seqnum (replaced, gst_event_get_seqnum (event));
      gst_event_unref (event);
      GST_PAD_PROBE_INFO_DATA (info) = replaced;
      return GST_PAD_PROBE_OK;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
      GstBuffer *buffer = gst_buffer_make_writable (
          GST_PAD_PROBE_INFO_BUFFER (info));
      GST_PAD_PROBE_INFO_DATA (info) = buffer;
      return self->retime (buffer) ? GST_PAD_PROBE_OK : GST_PAD_PROBE_DROP;
    }
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
      GstBufferList *list = gst_buffer_list_make_writable (
          GST_PAD_PROBE_INFO_BUFFER_LIST (info));
      GST_PAD_PROBE_INFO_DATA (info) = list;
      gst_buffer_list_foreach (list, +[] (GstBuffer ** buffer, guint,
              gpointer data) -> gboolean {
            *buffer = gst_buffer_make_writable (*buffer);
            if (!static_cast<Crossing *> (data)->retime (*buffer))
              gst_clear_buffer (buffer);
            return TRUE;
          }, self);
      return gst_buffer_list_length (list) ? GST_PAD_PROBE_OK :
          GST_PAD_PROBE_DROP;
    }
    return GST_PAD_PROBE_OK;
  }
};

Crossings::~Crossings ()
{
  for (auto &c : crossings_)
    gst_pad_remove_probe (c->pad, c->probe);
}

void
Crossings::add (GstPad *pad, Direction direction, GstElement *element,
    const CallMember &member)
{
  auto c = std::make_shared<Crossing> ();
  c->pad = GST_PAD (gst_object_ref (pad));
  c->direction = direction;
  c->offset = direction * member.running_time_offset (element);
  c->probe = gst_pad_add_probe (pad, (GstPadProbeType) (
          GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM), Crossing::probe_cb,
      new std::shared_ptr<Crossing> (c), +[] (gpointer data) {
        delete static_cast<std::shared_ptr<Crossing> *> (data);
      });
  std::lock_guard<std::mutex> lock (lock_);
  crossings_.push_back (std::move (c));
}

void
Crossings::remove (GstPad *pad)
{
  std::shared_ptr<Crossing> gone;
  {
    std::lock_guard<std::mutex> lock (lock_);
    for (auto it = crossings_.begin (); it != crossings_.end (); ++it)
      if ((*it)->pad == pad) {
        gone = *it;
        crossings_.erase (it);
        break;
      }
  }
  if (gone)
    gst_pad_remove_probe (gone->pad, gone->probe);
}

void
Crossings::update (GstElement *element, const CallMember &member)
{
  GstClockTimeDiff offset = member.running_time_offset (element);
  GST_DEBUG_OBJECT (element, "running time offset to its member: %"
      GST_STIME_FORMAT, GST_STIME_ARGS (offset));
  std::lock_guard<std::mutex> lock (lock_);
  for (auto &c : crossings_) {
    std::lock_guard<std::mutex> crossing_lock (c->lock);
    c->offset = c->direction * offset;
  }
}

}  // namespace p2pcall
