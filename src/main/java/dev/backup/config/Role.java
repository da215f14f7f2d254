package dev.backup.config;

public enum Role {
  manager, server, client
}
