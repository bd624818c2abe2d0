// imapflow_client.js - drives Tempest's IMAP server with the npm client
// imapflow (what many modern apps use).  Used by test_imap_imapflow.py;
// prints one JSON object with what it observed.
const fs = require('fs');
const path = require('path');
const { ImapFlow } = require('imapflow');

const port = Number(process.env.IMAP_PORT);
const maildir = process.env.MAILDIR;
const out = {};
const json = o => JSON.stringify(o, (k, v) => typeof v === 'bigint' ? String(v) : v);

async function main() {
    const client = new ImapFlow({
        host: '127.0.0.1', port, secure: false,
        auth: { user: process.env.IMAP_USER, pass: process.env.IMAP_PASS },
        tls: { rejectUnauthorized: false },
        logger: false,
    });
    await client.connect();
    out.secure = client.secureConnection || !!client.socket.encrypted;
    out.capabilities = [...client.capabilities.keys()];
    const list = await client.list();
    out.folders = list.map(f => [f.path, f.specialUse || null]);
    await client.append('INBOX', 'From: a@example.org\r\nSubject: flow\r\n' +
        'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n' +
        'Content-Type: text/plain\r\n\r\nhello\r\n--b\r\n' +
        'Content-Type: text/html\r\n\r\n<b>x</b>\r\n--b--\r\n', ['\\Seen']);
    let lock = await client.getMailboxLock('INBOX');
    try {
        out.exists = client.mailbox.exists;
        out.uidValidity = String(client.mailbox.uidValidity);
        for await (const msg of client.fetch('1:*', { uid: true, flags: true,
                envelope: true, bodyStructure: true, source: true })) {
            out.subject = msg.envelope.subject;
            out.flags = [...msg.flags];
            out.parts = (msg.bodyStructure.childNodes || []).map(n => n.type);
            out.sourceLen = msg.source.length;
        }
        const dl = await client.download('1', '2', { uid: false });
        let body = '';
        for await (const chunk of dl.content) body += chunk.toString();
        out.part2 = body;
        await client.messageFlagsAdd('1', ['\\Flagged']);
        out.searchFlagged = await client.search({ flagged: true });
        // IDLE: a message dropped into new/ must arrive as an EXISTS
        const got = new Promise(resolve => client.on('exists', d => resolve(d.count)));
        const idle = client.idle();
        await new Promise(r => setTimeout(r, 300));
        const tmp = path.join(maildir, 'tmp', 'flow-drop');
        fs.writeFileSync(tmp, 'Subject: dropped\n\nx\n');
        fs.renameSync(tmp, path.join(maildir, 'new', 'flow-drop'));
        out.idleExists = await Promise.race([got,
            new Promise(r => setTimeout(() => r(-1), 5000))]);
        out.moved = await client.messageMove('1', 'Trash');
    } finally {
        lock.release();
    }
    const st = await client.status('Trash', { messages: true });
    out.trashMessages = st.messages;
    await client.logout();
}

main().then(() => { console.log(json(out)); process.exit(0); })
    .catch(e => { console.log(json({ error: String(e), out })); process.exit(1); });
