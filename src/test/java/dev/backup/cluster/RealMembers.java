package dev.backup.cluster;

import dev.backup.config.Config;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** Tests with real Hazelcast members on loopback: every member a test starts is closed after it. */
abstract class RealMembers {
  @TempDir
  Path dir;

  private final List<Clustering.Clustered> started = new ArrayList<>();

  @AfterEach
  void stopMembers() {
    for (Clustering.Clustered c : started) {
      c.vertx().close().await();
    }
  }

  Clustering.Clustered start(Config c) {
    Clustering.Clustered cl = Clustering.start(c).await();
    started.add(cl);
    return cl;
  }
}
