# A Nomad client for builds: the docker driver with bind mounts (the build
# agent is mounted from /usr/local/bin/orbit), 2 vCPU and 4 GiB reserved for
# coordination (the seed's reservation), and Nomad's dynamic ports in the
# seed's range for SSH into builds (64535–65535). Scale-in drains the node
# from the bridge (the group's lifecycle hook; nomadbridge/scalein).
dnf install -y docker
systemctl enable --now docker
cat >/etc/nomad.d/client.hcl <<'HCL'
client {
  enabled    = true
  node_class = "build"
  server_join {
    retry_join = ["provider=aws tag_key={{.JoinTagKey}} tag_value={{.ServerTag}} addr_type=private_v4"]
  }
  reserved {
    cores  = "0-1"
    memory = 4096
  }
  min_dynamic_port = {{.SSHFirstPort}}
  max_dynamic_port = {{.SSHLastPort}}
  options = {
    "driver.denylist" = "java,qemu"
  }
}
plugin "docker" {
  config {
    volumes {
      enabled = true
    }
  }
}
HCL

systemctl daemon-reload
systemctl enable --now nomad
