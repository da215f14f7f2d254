package dev.backup.server;

import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.file.OpenOptions;
import io.vertx.core.net.NetSocket;

/**
 * Sends part of a stored file down a connection. In the clear that is {@code sendFile}
 * (zero copy, the kernel moves the bytes). Over TLS the bytes must pass through the
 * encryption anyway, and {@code sendFile} would then read the file in small pieces on
 * the event loop: the file is streamed instead, read asynchronously in large buffers.
 */
final class FileSender {
  static final int TLS_READ_BUFFER = 256 * 1024;

  private FileSender() {
  }

  static Future<Void> send(Vertx vertx, NetSocket sock, String path, long offset, long length, boolean tls) {
    if (length < 0 || offset < 0) {
      return Future.failedFuture(new IllegalArgumentException("no bytes " + offset + "+" + length + " of " + path));
    }
    if (length == 0) {
      return Future.succeededFuture();
    }
    if (!tls) {
      return sock.sendFile(path, offset, length);
    }
    return vertx.fileSystem().open(path, new OpenOptions().setRead(true).setWrite(false)).compose(file -> {
      file.setReadBufferSize(TLS_READ_BUFFER).setReadPos(offset).setReadLength(length);
      return file.pipe().endOnComplete(false).to(sock).eventually(file::close);
    });
  }
}
