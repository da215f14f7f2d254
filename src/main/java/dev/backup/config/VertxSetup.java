package dev.backup.config;

import io.vertx.core.VertxOptions;
import io.vertx.core.file.FileSystemOptions;

/** The Vert.x options every element and command starts from. */
public final class VertxSetup {
  private VertxSetup() {
  }

  /**
   * Files are only ever read from the file system: with class-path resolving on (Vert.x's
   * default), every JVM made a {@code vertx-cache-*} folder in the temporary folder at start
   * and left it behind whenever it was killed (every element, at every stop), and a
   * relative path missing from the disk could resolve to a resource inside the jar.
   */
  public static VertxOptions options() {
    return new VertxOptions().setFileSystemOptions(new FileSystemOptions()
        .setClassPathResolvingEnabled(false).setFileCachingEnabled(false));
  }
}
