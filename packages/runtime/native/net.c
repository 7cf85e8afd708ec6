/*
 * A sandbox's link to the host: a veth pair on a private /30, host end `--host-if` with `--host-ip`, sandbox end eth0
 * with `--sandbox-ip`. Addresses and routes are set with ioctls; the veth itself is made and removed over rtnetlink
 * (rtnl.c). The host side (tb_net_wire_host) is one routine for create (the new init's netns) and restore (a helper's or CRIU's netns); the
 * sandbox side (tb_net_configure_sandbox) runs inside the namespace. The host end carries no IPv6, filters by
 * reverse path and answers ARP only for itself; offline links join OFFLINE_LINK_GROUP, whence the firewall forwards
 * nothing.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launch.h"

static int set_addr(int sock, const char *ifname, const char *ip, const char *mask) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1) return errno = EINVAL, -1;
  if (ioctl(sock, SIOCSIFADDR, &ifr) < 0) return -1;
  inet_pton(AF_INET, mask, &sin->sin_addr);
  if (ioctl(sock, SIOCSIFNETMASK, &ifr) < 0) return -1;
  return 0;
}

static int link_up(int sock, const char *ifname) {
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
  if (ioctl(sock, SIOCGIFFLAGS, &ifr) < 0) return -1;
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  return ioctl(sock, SIOCSIFFLAGS, &ifr);
}

static int add_default_route(int sock, const char *gw) {
  struct rtentry rt;
  memset(&rt, 0, sizeof rt);
  struct sockaddr_in *dst = (struct sockaddr_in *)&rt.rt_dst, *g = (struct sockaddr_in *)&rt.rt_gateway,
                     *m = (struct sockaddr_in *)&rt.rt_genmask;
  dst->sin_family = g->sin_family = m->sin_family = AF_INET;
  inet_pton(AF_INET, gw, &g->sin_addr);
  rt.rt_flags = RTF_UP | RTF_GATEWAY;
  return ioctl(sock, SIOCADDRT, &rt);
}

/* Writes a per-interface sysctl of the calling process's network namespace ("ipv6", "eth0", "disable_ipv6", "1"). */
static int if_sysctl(const char *family, const char *ifname, const char *key, const char *value) {
  char p[256];
  snprintf(p, sizeof p, "/proc/sys/net/%s/conf/%s/%s", family, ifname, key);
  return write_file(p, value);
}

/*
 * The host end of a sandbox link, before it goes up: no IPv6 at all (no link-local address, so nothing on the host is
 * reachable over fe80::), strict reverse-path filtering (only the sandbox's own address may come in; the firewall's
 * rpfilter rule enforces the same even when conf/all says "loose"), and ARP answered only for the link's own address.
 */
static int harden_host_link(const char *ifname) {
  if (if_sysctl("ipv6", ifname, "disable_ipv6", "1") < 0 && errno != ENOENT) return -1;
  if (if_sysctl("ipv4", ifname, "rp_filter", "1") < 0) return -1;
  if (if_sysctl("ipv4", ifname, "arp_ignore", "1") < 0) return -1;
  if (if_sysctl("ipv4", ifname, "arp_announce", "2") < 0) return -1;
  return 0;
}

/* Inside the sandbox's netns: eth0 carries no IPv6 (loopback keeps ::1, which local programs expect). */
static int sandbox_link_ipv6_off(void) {
  if (if_sysctl("ipv6", "default", "disable_ipv6", "1") < 0 && errno != ENOENT) return -1;
  if (if_sysctl("ipv6", "eth0", "disable_ipv6", "1") < 0 && errno != ENOENT) return -1;
  return 0;
}

const char *tb_net_wire_host(const struct opts *o, pid_t nspid, int *pinned, int *veth) {
  char nspath[64];
  snprintf(nspath, sizeof nspath, "/proc/%d/ns/net", nspid);
  if (mount(nspath, o->netns_file, NULL, MS_BIND, NULL) < 0) return "pin netns";
  *pinned = 1;
  /* Offline sandboxes' host links join OFFLINE_LINK_GROUP: the host firewall forwards nothing from that group. */
  unsigned group = o->internet ? 0 : (unsigned)strtoul(OFFLINE_LINK_GROUP, NULL, 10);
  if (tb_rtnl_new_veth(o->host_if, group, nspid) < 0) return "create veth";
  *veth = 1;
  if (harden_host_link(o->host_if) < 0) return "harden host veth";
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  const char *fail = NULL;
  if (sock < 0 || set_addr(sock, o->host_if, o->host_ip, "255.255.255.252") < 0 || link_up(sock, o->host_if) < 0)
    fail = "configure host veth";
  if (sock >= 0) close(sock);
  return fail;
}

const char *tb_net_configure_sandbox(const struct opts *o) {
  int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return "socket";
  const char *fail = NULL;
  if (set_addr(sock, "lo", "127.0.0.1", "255.0.0.0") < 0 || link_up(sock, "lo") < 0) fail = "lo up";
  else if (sandbox_link_ipv6_off() < 0) fail = "ipv6 off";
  else if (set_addr(sock, "eth0", o->sandbox_ip, "255.255.255.252") < 0 || link_up(sock, "eth0") < 0) fail = "eth0 up";
  else if (o->internet && add_default_route(sock, o->host_ip) < 0) fail = "default route";
  int e = errno;
  close(sock);
  errno = e;
  return fail;
}

void tb_net_del_host_if(const char *host_if) {
  /* Usually gone already with the netns (or going: its cleanup is asynchronous). */
  unsigned index = if_nametoindex(host_if);
  if (index) tb_rtnl_del_link(index);
}

int tb_net_join_or_make(pid_t target) {
  if (!target) return unshare(CLONE_NEWNET);
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/net", target);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = setns(fd, CLONE_NEWNET);
  close(fd);
  return rc;
}
