# A Nomad 1.6.0 agent for Orbit's host executor: Debian with the tools build
# steps expect (bash, git, ssh, curl). Nomad comes from HashiCorp's release
# archive for the Docker host's architecture.
FROM debian:bookworm-slim
ARG TARGETARCH
ARG NOMAD_VERSION=1.6.0
RUN apt-get update \
 && apt-get install -y --no-install-recommends bash ca-certificates curl git openssh-client unzip \
 && curl -fsSLo /tmp/nomad.zip "https://releases.hashicorp.com/nomad/${NOMAD_VERSION}/nomad_${NOMAD_VERSION}_linux_${TARGETARCH}.zip" \
 && unzip /tmp/nomad.zip -d /usr/local/bin \
 && rm /tmp/nomad.zip \
 && apt-get purge -y unzip && apt-get autoremove -y && rm -rf /var/lib/apt/lists/*
