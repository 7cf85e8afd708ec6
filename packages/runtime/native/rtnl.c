/*
 * The two link operations the launcher needs, as rtnetlink requests (launch.h): making a sandbox's veth pair with its
 * peer already in the sandbox's network namespace, and deleting a link. No `ip` process: a fork and exec per create
 * or teardown cost more than the link itself. A request is built in one buffer — header, ifinfomsg, attributes, with
 * nested attributes opened by nl_nest and closed by nl_end — and answered by the kernel's ack.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "launch.h"

/* A request being built: header, ifinfomsg, then attributes; nests open with nl_nest and close with nl_end. */
struct nl_req {
  union {
    struct nlmsghdr nh;
    char buf[512];
  };
};

static struct rtattr *nl_put(struct nl_req *r, unsigned short type, const void *data, size_t len) {
  struct rtattr *a = (struct rtattr *)(r->buf + NLMSG_ALIGN(r->nh.nlmsg_len));
  if (NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_SPACE(len) > sizeof r->buf) return NULL;
  a->rta_type = type;
  a->rta_len = (unsigned short)RTA_LENGTH(len);
  if (len) memcpy(RTA_DATA(a), data, len);
  r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + RTA_ALIGN(a->rta_len);
  return a;
}

static struct rtattr *nl_nest(struct nl_req *r, unsigned short type) { return nl_put(r, type, NULL, 0); }

static void nl_end(struct nl_req *r, struct rtattr *nest) {
  nest->rta_len = (unsigned short)(r->buf + r->nh.nlmsg_len - (char *)nest);
}

/* An ifinfomsg (all zero but the index) appended as payload: the request's own, or a veth peer's. */
static int nl_ifinfo(struct nl_req *r, int index) {
  if (NLMSG_ALIGN(r->nh.nlmsg_len) + NLMSG_ALIGN(sizeof(struct ifinfomsg)) > sizeof r->buf) return -1;
  struct ifinfomsg *ifi = (struct ifinfomsg *)(r->buf + NLMSG_ALIGN(r->nh.nlmsg_len));
  memset(ifi, 0, sizeof *ifi);
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = index;
  r->nh.nlmsg_len = NLMSG_ALIGN(r->nh.nlmsg_len) + NLMSG_ALIGN(sizeof *ifi);
  return 0;
}

static void nl_start(struct nl_req *r, unsigned short type, unsigned short flags) {
  memset(r, 0, sizeof *r);
  r->nh.nlmsg_len = NLMSG_HDRLEN;
  r->nh.nlmsg_type = type;
  r->nh.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK | flags;
  r->nh.nlmsg_seq = 1;
}

/* Sends the request and waits for the kernel's ack. 0, or -1/errno (the kernel's error). */
static int nl_talk(struct nl_req *r) {
  int fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) return -1;
  struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
  char buf[1024];
  int rc = -1;
  if (sendto(fd, r->buf, r->nh.nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof kernel) >= 0) {
    ssize_t n;
    while ((n = recv(fd, buf, sizeof buf, 0)) < 0 && errno == EINTR) {}
    struct nlmsghdr *h = (struct nlmsghdr *)buf;
    if (n >= (ssize_t)NLMSG_LENGTH(sizeof(struct nlmsgerr)) && h->nlmsg_type == NLMSG_ERROR) {
      int err = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
      rc = err == 0 ? 0 : (errno = -err, -1);
    } else if (n >= 0) {
      errno = EPROTO;
    }
  }
  int e = errno;
  close(fd);
  errno = e;
  return rc;
}

/* RTM_DELLINK of the link with that index. 0 (also when it is gone already) or -1/errno. */
int tb_rtnl_del_link(unsigned index) {
  struct nl_req r;
  nl_start(&r, RTM_DELLINK, 0);
  nl_ifinfo(&r, (int)index);
  return nl_talk(&r) < 0 && errno != ENODEV ? -1 : 0;
}

/* `ip link add NAME group GROUP type veth peer name eth0 netns PID`, as one RTM_NEWLINK. 0 or -1/errno (EEXIST: the
   name is taken). */
int tb_rtnl_new_veth(const char *name, unsigned group, pid_t peer_netns_pid) {
  struct nl_req r;
  nl_start(&r, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
  nl_ifinfo(&r, 0);
  unsigned ns = (unsigned)peer_netns_pid;
  struct rtattr *info, *data, *peer;
  if (!nl_put(&r, IFLA_IFNAME, name, strlen(name) + 1) || !nl_put(&r, IFLA_GROUP, &group, sizeof group) ||
      !(info = nl_nest(&r, IFLA_LINKINFO)) || !nl_put(&r, IFLA_INFO_KIND, "veth", 4) ||
      !(data = nl_nest(&r, IFLA_INFO_DATA)) || !(peer = nl_nest(&r, VETH_INFO_PEER)) || nl_ifinfo(&r, 0) < 0 ||
      !nl_put(&r, IFLA_IFNAME, "eth0", 5) || !nl_put(&r, IFLA_NET_NS_PID, &ns, sizeof ns))
    return errno = ENOBUFS, -1;
  nl_end(&r, peer);
  nl_end(&r, data);
  nl_end(&r, info);
  return nl_talk(&r);
}
