import { formatSseEvent } from '@keepalive/sse-transport';
formatSseEvent({ id: '7', event: 'token', data: 'two\nlines' });
// 'id: 7\nevent: token\ndata: two\ndata: lines\n\n'
