#!/bin/bash
# Shows IPVS masquerading replies leaving a fenced director from the VIP (needs IPVS: run it in
# the VM, tests/vm/run-in-vm.sh -- bash tests/server/kernel/fence_ipvs_nat_vm.sh [fixed]). The
# ruleset is the fence as install() writes it for one lease {198.18.1.10}, closed; `fixed` adds
# the postrouting chain. Namespaces r12c (client), r12d (director), r12r (real server).
set -u
export W=$(mktemp -d)
rm -f $W/connected
for n in c d r; do ip netns del r12$n 2>/dev/null; ip netns add r12$n; ip -n r12$n link set lo up; done
ip link add c0 netns r12c type veth peer name d0 netns r12d
ip link add r0 netns r12r type veth peer name d1 netns r12d
ip -n r12c addr add 198.18.1.2/24 dev c0; ip -n r12c link set c0 up
ip -n r12d addr add 198.18.1.1/24 dev d0; ip -n r12d addr add 198.18.1.10/24 dev d0; ip -n r12d link set d0 up
ip -n r12d addr add 198.18.2.1/24 dev d1; ip -n r12d link set d1 up
ip -n r12r addr add 198.18.2.2/24 dev r0; ip -n r12r link set r0 up
ip -n r12r route add default via 198.18.2.1
ip netns exec r12d sysctl -qw net.ipv4.ip_forward=1
ip netns exec r12d ipvsadm -A -t 198.18.1.10:8080 -s rr
ip netns exec r12d ipvsadm -a -t 198.18.1.10:8080 -r 198.18.2.2:8080 -m
ip netns exec r12r /usr/bin/python3 -c '
import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1); s.bind(("198.18.2.2",8080)); s.listen(1)
c,_=s.accept()
for i in range(100):
    c.send(b"line %d\n" % i); time.sleep(0.1)
' &
SRV=$!
for i in $(seq 100); do ip netns exec r12r ss -ltn | grep -q 8080 && break; sleep 0.2; done
ip netns exec r12r ss -ltn
ip netns exec r12c /usr/bin/python3 -c '
import socket,time,sys
s=socket.create_connection(("198.18.1.10",8080),timeout=10)
print("connected", flush=True)
open(__import__("os").environ["W"] + "/connected", "w").close()
s.settimeout(0.5)
t0=time.time(); got=0
while time.time()-t0<6:
    try: d=s.recv(4096)
    except socket.timeout: continue
    if not d: break
    print("%.2f %s" % (time.time()-t0, d.decode().split()), flush=True)
' > $W/nat_client.out 2>&1 &
CLI=$!
for i in $(seq 100); do [ -e $W/connected ] && break; sleep 0.1; done
sleep 1
# The fence as installed, closed (what install() writes for lease 0 = {198.18.1.10}).
ip netns exec r12d nft -f - <<'N'
table inet quorate {
  map vips4 { type ipv4_addr : verdict; elements = { 198.18.1.10 : jump lease0 } }
  chain lease0 { drop; }
  chain pre { type filter hook prerouting priority -300; ip daddr vmap @vips4; }
  chain out { type filter hook output priority -300; ip saddr vmap @vips4; }
}
N
if [ "${1:-}" = fixed ]; then
  ip netns exec r12d nft add chain inet quorate post '{ type filter hook postrouting priority 300; }'
  ip netns exec r12d nft add rule inet quorate post ip saddr vmap @vips4
  echo "with the post chain"
fi
echo "fence closed at ~1.5 s after connect"
ip netns exec r12d nft list chain inet quorate lease0
timeout 3 ip netns exec r12d tcpdump -nn -i d0 src host 198.18.1.10 2>/dev/null > $W/nat_tcpdump.out &
TD=$!
ip netns exec r12d ipvsadm -Lnc; wait $CLI; wait $TD
kill $SRV 2>/dev/null
echo "--- client (times from connect):"; cat $W/nat_client.out
echo "--- frames from the VIP on the director's client link in the 3 s after the close: $(grep -c "198.18.1.10" $W/nat_tcpdump.out)"; head -3 $W/nat_tcpdump.out
ip netns exec r12d nft list chain inet quorate lease0
ip netns exec r12c /usr/bin/python3 -c '
import socket
try:
    socket.create_connection(("198.18.1.10",8080),timeout=2); print("new connection: OPEN")
except Exception as e: print("new connection: refused/timeout (fence works for inbound):", e)
'
for n in c d r; do ip netns del r12$n; done
rm -rf "$W"
