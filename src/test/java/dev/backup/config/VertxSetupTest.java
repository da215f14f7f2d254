package dev.backup.config;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Vertx;
import io.vertx.core.VertxOptions;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VertxSetupTest {

  private static String[] startAndStop(VertxOptions options, Path dir) throws Exception {
    options.getFileSystemOptions().setFileCacheDir(dir.resolve("vertx-cache").toString());
    Vertx vertx = Vertx.vertx(options);
    try (Stream<Path> made = Files.list(dir)) {
      return made.map(p -> p.getFileName().toString()).toArray(String[]::new);
    } finally {
      vertx.close().await();
    }
  }

  @Test
  void noCacheFolderIsMadeInTheTemporaryFolder(@TempDir Path dir) throws Exception {
    assertThat(startAndStop(VertxSetup.options(), dir)).isEmpty();
  }

  @Test
  void vertxDefaultsWouldMakeOne(@TempDir Path dir) throws Exception {
    // (What the test above guards against: a folder per JVM, left behind when it is killed.)
    assertThat(startAndStop(new VertxOptions(), dir)).singleElement().asString().startsWith("vertx-cache-");
  }

  @Test
  void aRelativePathIsNotResolvedInsideTheJar(@TempDir Path dir) {
    // A resource of the class path, missing from the working folder.
    assertThat(exists(VertxSetup.options(), dir, "simplelogger.properties")).isFalse();
    assertThat(exists(new VertxOptions(), dir, "simplelogger.properties")).isTrue();
  }

  private static boolean exists(VertxOptions options, Path dir, String path) {
    options.getFileSystemOptions().setFileCacheDir(dir.resolve("vertx-cache").toString());
    Vertx vertx = Vertx.vertx(options);
    try {
      return vertx.fileSystem().existsBlocking(path);
    } finally {
      vertx.close().await();
    }
  }
}
