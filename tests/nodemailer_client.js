// nodemailer_client.js - submits mail to Tempest with the npm client
// nodemailer (what many Node.js applications send with).  Used by
// test_interop_nodemailer.py.  SENDS (JSON) is a list of
// {port, secure, method, pass, ignoreTLS, subject, tag, count, from, dsn};
// each is
// sent on a connection of its own (STARTTLS required unless secure =
// implicit TLS); count > 1: that many messages (tags TAG-0, TAG-1, ...)
// over one pooled connection.  The outcomes are printed as one JSON list
// on the last line.
const nodemailer = require('nodemailer');

const sends = JSON.parse(process.env.SENDS);
const attachment = Buffer.from(process.env.ATTACHMENT_B64, 'base64');

async function one(c) {
    const count = c.count || 1;
    const transport = nodemailer.createTransport({
        pool: count > 1, maxConnections: 1, maxMessages: 100,
        host: '127.0.0.1', port: c.port, secure: !!c.secure,
        requireTLS: !c.secure && !c.ignoreTLS, ignoreTLS: !!c.ignoreTLS,
        auth: { user: process.env.SMTP_USER, pass: c.pass || process.env.SMTP_PASS },
        authMethod: c.method,
        tls: { rejectUnauthorized: false },
        connectionTimeout: 60000, greetingTimeout: 60000, socketTimeout: 60000,
        name: 'client.example.test',
    });
    const mail = tag => ({
        from: '"Jörg Test" <' + (c.from || 'demo@example.test') + '>',
        dsn: c.dsn || undefined,
        to: 'demo@example.test',
        subject: c.subject,
        text: 'Grüße ' + tag + '\n',
        messageId: '<' + tag + '@nodemailer.example.test>',
        attachments: [{ filename: 'données.bin', content: attachment }],
    });
    try {
        if (count > 1) {
            const infos = await Promise.all([...Array(count).keys()].map(
                i => transport.sendMail(mail(c.tag + '-' + i))));
            return { tag: c.tag, ok: true,
                     accepted: infos.map(i => i.accepted).flat(),
                     response: infos[0].response };
        }
        const info = await transport.sendMail(mail(c.tag));
        return { tag: c.tag, ok: true, accepted: info.accepted,
                 response: info.response };
    } catch (e) {
        return { tag: c.tag, ok: false, code: e.code || null,
                 responseCode: e.responseCode || null,
                 response: e.response || String(e) };
    } finally {
        transport.close();
    }
}

async function main() {
    const out = [];
    for (const c of sends)
        out.push(await one(c));
    console.log(JSON.stringify(out));
}

main().catch(e => { console.log(JSON.stringify([{ error: String(e) }])); });
