# A Unix-socket to TCP forwarder run inside a network namespace, so a test in the root namespace reaches a server
# listening on the namespace's own loopback without any route into the namespace. Usage: unix-forward.py SOCKET HOST PORT
import asyncio, os, sys
path, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    except Exception: pass
    finally:
        try: w.close()
        except Exception: pass
async def handle(cr, cw):
    try: sr, sw = await asyncio.open_connection(host, port)
    except Exception: cw.close(); return
    await asyncio.gather(pipe(cr, sw), pipe(sr, cw))
async def main():
    if os.path.exists(path): os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    print("forwarding", flush=True)
    async with server: await server.serve_forever()
asyncio.run(main())
