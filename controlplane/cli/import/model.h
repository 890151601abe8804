// What an importer hands the YAML writer: shoal's config in the words of shoal.yaml(5), each
// part with its Source and the notes (comments) it carries. Values stay text where the YAML
// takes them as they are (addresses, seconds), so that nothing is reformatted on the way.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "cli/import/source.h"

namespace shoal::cli::import {

struct Check {
  Source at;
  std::string type;                              // tcp | http | https | udp | exec
  std::optional<std::string> interval, timeout;  // seconds
  std::optional<uint32_t> rise, fall, port;
  std::optional<std::string> initial;  // up | down
  std::optional<std::string> path, host, body, payload, expect_reply, command;
  std::vector<std::string> expect;  // HTTP statuses and ranges
  std::string expect_note;
  std::optional<bool> verify_tls, weight_from_output;
  std::vector<std::string> notes;
};

struct Backend {
  Source at;
  std::string address;
  uint16_t port = 0;  // 0: the service's
  std::optional<uint32_t> weight;
  bool sorry = false;
  std::optional<Check> check;
  std::optional<std::string> notify_up, notify_down;  // commands, as shoal splits them
  std::vector<std::string> notes;
};

struct Service {
  Source at;
  std::string name;
  std::string vip;
  std::string vip_note;  // a placeholder's: why, and what to write instead
  uint16_t port = 0;     // 0: a multi-port service, written as `ports: all`
  std::string ports_note;
  std::string protocol = "tcp";
  std::string forwarding = "nat";
  std::string forwarding_note;
  std::optional<uint32_t> persistence_timeout;  // seconds
  std::optional<std::string> persistence_netmask;
  std::string persistence_note;
  std::optional<std::string> scheduler;  // LVS's name, see scheduler.h
  std::string scheduler_note;            // "lb_algo, line 29"
  std::optional<std::string> all_down;
  std::optional<uint32_t> quorum, hysteresis;
  std::optional<std::string> quorum_up, quorum_down;  // commands, as shoal splits them
  std::string quorum_note;  // "quorum 2 (line 5), hysteresis 1 (line 6)"
  std::vector<Backend> backends;
  std::vector<std::string> notes;
};

struct VrrpTrack {
  std::string name;  // a port (keepalived's interface) or a script
  std::optional<int32_t> weight;
};

// A notify command: shoal's key (notify_master, ..., notify) and the command's text.
struct NotifyCommand {
  std::string key;
  std::string command;
};

// keepalived's vrrp_script.
struct VrrpScript {
  Source at;
  std::string name;
  std::string command;
  std::optional<std::string> interval, timeout;  // seconds
  std::optional<uint32_t> rise, fall;
  std::optional<int32_t> weight;
  std::vector<std::string> notes;
};

struct VrrpInstance {
  Source at;
  std::string name;
  std::string interface;  // keepalived's: becomes the placeholder port of that name
  uint32_t vrid = 0;
  std::optional<uint32_t> priority;
  std::optional<std::string> interval;
  std::optional<bool> preempt, virtual_mac;
  std::optional<std::string> preempt_delay;
  std::optional<uint32_t> garp_count;
  std::optional<std::string> garp_interval, garp_refresh;
  bool ipv6 = false;  // the family of its addresses and advertisements (one per instance)
  std::vector<std::string> addresses;
  std::map<std::string, std::string> address_devices;  // address → keepalived's `dev`, if given
  std::vector<VrrpTrack> track_ports;
  std::vector<VrrpTrack> track_scripts;
  std::vector<NotifyCommand> notify;
  std::vector<std::string> notes;
};

struct SyncGroup {
  Source at;
  std::string name;
  std::vector<std::string> instances;
  std::vector<NotifyCommand> notify;
  std::vector<std::string> notes;
};

// keepalived's lvs_sync_daemon: IPVS's connection sync daemon, shoal's connection_sync.
struct ConnectionSync {
  Source at;
  std::string interface;
  std::optional<uint32_t> id, udp_port;
  std::optional<std::string> group;
  std::vector<std::string> notes;
};

struct Imported {
  std::string from;                     // "keepalived" | "ipvsadm"
  std::string file;                     // the source file, as given
  std::vector<std::string> interfaces;  // keepalived's interfaces, in order of appearance
  std::vector<Service> services;
  std::vector<VrrpInstance> vrrp;
  std::vector<SyncGroup> sync_groups;
  std::vector<VrrpScript> vrrp_scripts;
  std::optional<ConnectionSync> connection_sync;
  std::vector<std::string> notes;  // top-level comments: constructs not imported
  Warnings warnings;
  std::vector<std::string> errors;  // the source could not be read whole: no output
};

}  // namespace shoal::cli::import
