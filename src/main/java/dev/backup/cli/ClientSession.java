package dev.backup.cli;

import dev.backup.client.BackupClient;
import dev.backup.client.LocalFiles;
import dev.backup.config.Config;
import io.vertx.core.Vertx;
import java.util.function.Supplier;

/** The client's connection, made on first use and shared by the commands of one run or REPL. */
final class ClientSession implements AutoCloseable {
  private final Supplier<Config> config;
  private Config resolved;
  private Vertx vertx;
  private BackupClient client;

  ClientSession(Supplier<Config> config) {
    this.config = config;
  }

  Config config() {
    if (resolved == null) {
      Config c = config.get();
      if (c.role() != dev.backup.config.Role.client) {
        throw new dev.backup.protocol.BackupException(dev.backup.protocol.ErrorCode.USAGE,
            "client commands need --role=client");
      }
      resolved = c;
    }
    return resolved;
  }

  synchronized BackupClient client() {
    if (client == null) {
      vertx = Vertx.vertx(dev.backup.config.VertxSetup.options());
      client = new BackupClient(vertx, config());
    }
    return client;
  }

  /** Ctrl-C: stop the transfers in progress (if any). */
  synchronized void cancel() {
    if (client != null) {
      client.cancel();
    }
  }

  /** The JVM is going away: stop transfers and remove temporary files at once. */
  synchronized void abortNow() {
    if (client != null) {
      client.abortNow();
    }
  }

  LocalFiles local() {
    return new LocalFiles(config().root());
  }

  /** The client's records of its files' checksums, loaded now (blocking; see LocalHashes). */
  dev.backup.client.LocalHashes localHashes() {
    Config c = config();
    return dev.backup.client.LocalHashes.load(c.cacheDir(), c.root(), c.cacheSettleSeconds());
  }

  @Override
  public synchronized void close() {
    if (client != null) {
      client.close();
      vertx.close().await();
      client = null;
      vertx = null;
    }
  }
}
